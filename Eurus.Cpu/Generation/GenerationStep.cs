using Eurus.Cpu.Grammars;
using Eurus.Cpu.Sampling;
using Eurus.Cpu.Tokenization;

namespace Eurus.Cpu.Generation;

/// <summary>
/// What happens after the forward pass for one sequence, written once for <see cref="InferenceSession"/> and
/// <see cref="BatchedGenerator"/>: the token budget and the context, sampling, end of sequence, the streamed text and
/// stop strings, the finish reason and the text held back at the end. One instance per generation.
/// </summary>
internal sealed class GenerationStep(SamplingSettings settings, Tokenizer tokenizer, int contextLength)
{
    private readonly Sampler _sampler = new(settings, tokenizer.VocabSize);
    private readonly StreamingTokenDecoder _decoder = new(tokenizer);
    private readonly StopStringMatcher _stop = new(settings.StopStrings);
    private readonly int _eos = tokenizer.EosId;
    private readonly GrammarConstraint? _grammar = settings.Grammar is { } g ? new GrammarConstraint(g, tokenizer) : null;

    /// <summary>Tokens generated so far.</summary>
    public int Generated { get; private set; }

    /// <summary>Why the generation ends before another token is sampled (<see cref="FinishReason.None"/>: it goes on).</summary>
    public FinishReason Ended(int tokenCount) =>
        Generated >= settings.MaxTokens ? FinishReason.MaxTokens
        : tokenCount >= contextLength ? FinishReason.ContextFull
        : FinishReason.None;

    /// <summary>
    /// Samples the next token from <paramref name="logits"/> (the logits after the last of <paramref name="tokens"/>),
    /// appends it to <paramref name="tokens"/> and returns the token to stream (null: nothing to stream) and why the
    /// generation ends now (<see cref="FinishReason.None"/>: it goes on). The end of sequence is not appended; text
    /// that may start a stop string is held back, and a stop string ends the generation without its text.
    /// </summary>
    public (FinishReason Reason, GeneratedToken? Token) Next(ReadOnlySpan<float> logits, List<int> tokens) => Next(logits, tokens, -1, default);

    /// <summary>
    /// The sampler that draws sampled draft-model drafts (<see cref="Sampler.SampleDraft"/>) for this generation, or null
    /// where drafts are not sampled (greedy decoding: drafts are then the draft model's argmax). Under a grammar the
    /// drafts are drawn among the tokens <see cref="Grammar"/> allows.
    /// </summary>
    public Sampler? DraftSampler => settings.Temperature > 0 ? _sampler : null;

    /// <summary>The generation's place in its grammar (null: no grammar).</summary>
    public GrammarConstraint? Grammar => _grammar;

    /// <summary>
    /// <see cref="Next(ReadOnlySpan{float}, List{int})"/> where the next token is checked against a sampled draft token
    /// <paramref name="draft"/> drawn from <paramref name="q"/> (speculative sampling, <see cref="Sampler.SampleVerified"/>,
    /// under the grammar's mask of this position when there is a grammar, the mask q was drawn under);
    /// a negative <paramref name="draft"/>: plain sampling.
    /// </summary>
    public (FinishReason Reason, GeneratedToken? Token) Next(ReadOnlySpan<float> logits, List<int> tokens, int draft, ReadOnlySpan<float> q)
    {
        if (Ended(tokens.Count) is var ended && ended != FinishReason.None) return (ended, null);
        var history = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(tokens);
        int next;
        if (draft >= 0)
        {
            if (DraftSampler is null) throw new InvalidOperationException("Sampled drafts need a temperature.");
            next = _sampler.SampleVerified(logits, history, draft, q, _grammar?.Allowed());
        }
        else if (_grammar is null) next = _sampler.Sample(logits, history);
        else
        {
            // Greedy: the best token is usually allowed, and checking it costs a few table reads; otherwise (and for
            // sampling, which needs the whole allowed set) the state's cached mask.
            next = settings.Temperature <= 0 ? _sampler.Sample(logits, history) : -1;
            if (next < 0 || !_grammar.Allows(next)) next = _sampler.Sample(logits, history, _grammar.Allowed());
        }
        if (_grammar is not null)
        {
            if (next == _eos) return (FinishReason.EndOfSequence, null); // the grammar is complete
            _grammar.Accept(next);
        }
        if (settings.StopAtEos && next == _eos) return (FinishReason.EndOfSequence, null);
        tokens.Add(next);
        Generated++;
        var (emit, hit) = _stop.Push(_decoder.Append(next));
        if (hit) return (FinishReason.StopString, emit.Length > 0 ? Token(logits, next, emit) : null);
        return (Ended(tokens.Count), Token(logits, next, emit));
    }

    private readonly bool _logprobs = settings.Logprobs || settings.TopLogprobs > 0;

    /// <summary>The token to stream, with its log probabilities when they were asked for.</summary>
    private GeneratedToken Token(ReadOnlySpan<float> logits, int id, string text)
    {
        if (!_logprobs) return new GeneratedToken(id, text);
        var (logprob, top) = Sampling.Logprobs.For(logits, id, settings.TopLogprobs);
        return new GeneratedToken(id, text) { Logprob = logprob, TopLogprobs = top };
    }

    /// <summary>
    /// The text still held back (an incomplete character, a possible start of a stop string) when the generation ends
    /// for <paramref name="reason"/>: empty after a stop string or a cancellation, which drop it.
    /// </summary>
    public string Rest(FinishReason reason) =>
        reason is FinishReason.MaxTokens or FinishReason.ContextFull or FinishReason.EndOfSequence ? _stop.Flush(_decoder.Flush()) : "";
}
