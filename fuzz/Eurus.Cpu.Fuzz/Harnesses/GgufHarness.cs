using Eurus.Cpu.Generation;
using Eurus.Cpu.Gguf;
using Eurus.Cpu.Model;

namespace Eurus.Cpu.Fuzzing;

/// <summary>
/// bytes → a GGUF file → <see cref="GgufFile.Open"/> (every tensor's first and last row read) →
/// <see cref="MistralConfig.FromGguf"/> → <see cref="EurusModel.Load"/> (1 thread, 8 positions, F32 or F16 KV cache) → encode and decode a
/// short text → evaluate up to 3 prompt tokens, then one more (one decode step). The only typed error the load path
/// documents is <see cref="GgufFormatException"/>: anything else escaping is a finding. A file the loader accepts
/// must run: an exception from encoding or from the forward pass is a validation gap.
/// </summary>
public sealed class GgufHarness : IFuzzHarness
{
    private const string Text = "the cab [X] hé A\u2581t 42";
    private readonly FuzzTempDir _dir = new("gguf");
    private readonly string _path;

    public GgufHarness() => _path = _dir.File("input.gguf");

    public string Name => "gguf";

    public Exception? Run(byte[] input)
    {
        File.WriteAllBytes(_path, input);
        try
        {
            using (var file = GgufFile.Open(_path))
            {
                foreach (var t in file.Tensors)
                {
                    if (t.RowBytes <= int.MaxValue)
                    {
                        _ = file.GetRowData(t, 0);
                        _ = file.GetRowData(t, t.RowCount - 1);
                    }
                }
                foreach (var (_, value) in file.Metadata) _ = value.ToString();
                _ = MistralConfig.FromGguf(file);
            }

            // Odd-length inputs run with an F16 KV cache, even-length ones with F32.
            var kv = input.Length % 2 == 0 ? KvCacheType.F32 : KvCacheType.F16;
            using var model = EurusModel.Load(_path, new ModelOptions { Threads = 1, ContextLength = 8, BatchSize = 4, KvCacheType = kv });
            var tokenizer = model.Tokenizer;
            int[] ids = tokenizer.Encode(Text);
            _ = tokenizer.Decode(ids);
            foreach (int id in ids) _ = tokenizer.GetPieceBytes(id);
            if (ids.Length == 0) ids = [tokenizer.BosId];

            using var session = model.CreateSession();
            int prompt = Math.Min(Math.Min(3, ids.Length), model.ContextLength);
            var logits = session.Evaluate(ids.AsSpan(0, prompt));
            Check(logits.Length, model.Config.Vocab);
            if (prompt < model.ContextLength)
            {
                int[] next = [ArgMax(logits)];
                logits = session.Evaluate(next);
                Check(logits.Length, model.Config.Vocab);
            }
            return null;
        }
        catch (GgufFormatException e)
        {
            return e;
        }
        finally
        {
            File.Delete(_path);
        }
    }

    private static void Check(int logits, int vocab)
    {
        if (logits != vocab) throw new FuzzFinding($"the forward pass returned {logits} logits for a vocabulary of {vocab}.");
    }

    private static int ArgMax(ReadOnlySpan<float> x)
    {
        int best = 0;
        for (int i = 1; i < x.Length; i++) if (x[i] > x[best]) best = i;
        return best;
    }

    public void Dispose() => _dir.Dispose();
}
