using Eurus.Cpu.HuggingFace;

namespace Eurus.Cpu.Fuzzing;

/// <summary>
/// bytes → <see cref="SentencePieceModel.Parse"/>; when it parses, the bytes as a model folder's tokenizer.model →
/// <see cref="HfVocabulary.Read"/> → <see cref="HfVocabulary.CreateTokenizer"/> → encode and decode a short text.
/// The typed error is <see cref="HuggingFaceFormatException"/>; a tokenizer.model the vocabulary reader accepts must
/// make a working tokenizer.
/// </summary>
public sealed class SentencePieceHarness : IFuzzHarness
{
    private const string Text = "Hello wörld ▁ the <s> 12 [X]\t\u00e9\U0001F600";
    private readonly FuzzTempDir _dir = new("sentencepiece");

    public string Name => "sentencepiece";

    public Exception? Run(byte[] input)
    {
        string path = _dir.File(SentencePieceModel.FileName);
        try
        {
            var sp = SentencePieceModel.Parse(input, "fuzz-input");
            if (sp.Pieces.Count == 0) throw new FuzzFinding("Parse accepted a model with no pieces.");
            File.WriteAllBytes(path, input);
            var vocab = HfVocabulary.Read(_dir.Path);
            var tokenizer = vocab.CreateTokenizer();
            int[] ids = tokenizer.Encode(Text);
            foreach (int id in ids)
                if ((uint)id >= (uint)tokenizer.VocabSize) throw new FuzzFinding($"Encode produced id {id} outside the vocabulary of {tokenizer.VocabSize}.");
            _ = tokenizer.Decode(ids);
            return null;
        }
        catch (HuggingFaceFormatException e)
        {
            return e;
        }
        finally
        {
            File.Delete(path);
        }
    }

    public void Dispose() => _dir.Dispose();
}
