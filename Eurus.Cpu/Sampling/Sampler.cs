namespace Eurus.Cpu.Sampling;

/// <summary>
/// Picks tokens from logits according to <see cref="SamplingSettings"/>. Holds its scratch buffers, so sampling
/// allocates nothing per token. Seeded with a SplitMix64 generator, so results are reproducible across runs and
/// platforms.
/// </summary>
public sealed class Sampler
{
    private readonly SamplingSettings _s;
    private readonly float[] _logits;
    private readonly int[] _idx;
    private readonly float[] _probs;
    private readonly int[] _counts;
    private readonly Comparison<int> _byLogit;
    private ulong _rng;

    /// <summary>Creates a sampler for a vocabulary of <paramref name="vocabSize"/> tokens.</summary>
    public Sampler(SamplingSettings settings, int vocabSize)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        ArgumentOutOfRangeException.ThrowIfLessThan(vocabSize, 1);
        _s = settings;
        _logits = new float[vocabSize];
        _idx = new int[vocabSize];
        _probs = new float[vocabSize];
        _counts = new int[vocabSize];
        _rng = settings.Seed ?? (ulong)Random.Shared.NextInt64();
        _byLogit = (a, b) => Better(a, b) ? -1 : Better(b, a) ? 1 : 0;
    }

    /// <summary>Chooses the next token from <paramref name="logits"/>, given the tokens so far (for the penalties).</summary>
    public int Sample(ReadOnlySpan<float> logits, ReadOnlySpan<int> history) => Sample(logits, history, null);

    /// <summary>
    /// Chooses the next token among those <paramref name="allowed"/> (null: all): the others get a logit of −∞ before
    /// the filters, and top-k counts only allowed tokens.
    /// </summary>
    internal int Sample(ReadOnlySpan<float> logits, ReadOnlySpan<int> history, Grammars.TokenMask? allowed)
    {
        int n = Prepare(logits, history, allowed, _s.Temperature);
        return _s.Temperature <= 0 ? ArgMax(_logits) : Draw(n);
    }

    /// <summary>
    /// Samples a speculative draft token (temperature &gt; 0) from the distribution q that
    /// <see cref="Sample(ReadOnlySpan{float}, ReadOnlySpan{int}, Grammars.TokenMask?)"/> draws from for
    /// <paramref name="logits"/> (penalties, the grammar's <paramref name="allowed"/> tokens, top-k, top-p, min-p,
    /// temperature), with this sampler's seeded generator, and writes q over the vocabulary to <paramref name="q"/>
    /// (zero outside the kept candidates). A positive <paramref name="temperature"/> replaces the settings' final
    /// temperature for q (an internal knob: speculative sampling is exact for any q the draft is drawn from).
    /// </summary>
    internal int SampleDraft(ReadOnlySpan<float> logits, ReadOnlySpan<int> history, Span<float> q, Grammars.TokenMask? allowed = null, float temperature = 0)
    {
        int n = Prepare(logits, history, allowed, temperature > 0 ? temperature : _s.Temperature);
        q.Clear();
        for (int i = 0; i < n; i++) q[_idx[i]] = _probs[i];
        return Draw(n);
    }

    /// <summary>
    /// Speculative sampling's verification of draft token <paramref name="draft"/>, drawn from <paramref name="q"/>
    /// (written by <see cref="SampleDraft"/>), against this sampler's distribution p for <paramref name="logits"/>
    /// (among the grammar's <paramref name="allowed"/> tokens, the mask q was made under): keeps the draft with
    /// probability min(1, p(draft) / q(draft)), else draws from the residual max(0, p − q), normalized. The result is
    /// distributed as p (temperature &gt; 0).
    /// </summary>
    internal int SampleVerified(ReadOnlySpan<float> logits, ReadOnlySpan<int> history, int draft, ReadOnlySpan<float> q, Grammars.TokenMask? allowed = null)
    {
        int n = Prepare(logits, history, allowed, _s.Temperature);
        float pd = 0;
        for (int i = 0; i < n; i++)
            if (_idx[i] == draft) { pd = _probs[i]; break; }
        float qd = q[draft];
        if (NextDouble() * qd < pd) return draft; // u < p/q (q(draft) > 0: it was drawn from q)
        double sum = 0;
        for (int i = 0; i < n; i++) sum += Math.Max(0f, _probs[i] - q[_idx[i]]);
        if (!(sum > 0)) return Draw(n); // p ≤ q everywhere up to rounding: p itself
        double r = NextDouble() * sum, acc = 0;
        int last = 0;
        for (int i = 0; i < n; i++)
        {
            float d = Math.Max(0f, _probs[i] - q[_idx[i]]);
            if (d <= 0) continue;
            last = i;
            acc += d;
            if (r < acc) return _idx[i];
        }
        return _idx[last];
    }

    /// <summary>How many recent tokens the penalties read (0: no penalties).</summary>
    internal int PenaltyHistory =>
        _s.RepeatPenalty == 1f && _s.FrequencyPenalty == 0f && _s.PresencePenalty == 0f ? 0 : _s.PenaltyWindow;

    /// <summary>
    /// Copies the logits, applies the penalties and the mask and, with a temperature, leaves the sampling distribution
    /// in _idx[0..n) (token ids, most likely first) and _probs[0..n), at <paramref name="temperature"/> (the settings',
    /// but for a draft's q), returning n (0 for greedy decoding).
    /// </summary>
    private int Prepare(ReadOnlySpan<float> logits, ReadOnlySpan<int> history, Grammars.TokenMask? allowed, float temperature)
    {
        int v = _logits.Length;
        if (logits.Length != v) throw new ArgumentException($"Expected {v} logits, got {logits.Length}.", nameof(logits));
        logits.CopyTo(_logits);
        ApplyPenalties(history);
        int candidates = v;
        if (allowed is not null)
        {
            var bits = allowed.Bits;
            for (int i = 0; i < v; i++)
                if ((bits[i >> 6] & (1UL << i)) == 0) _logits[i] = float.NegativeInfinity;
            candidates = allowed.Count;
        }
        if (_s.Temperature <= 0) return 0;

        // Candidates: top-k (or all), sorted by logit descending (disallowed tokens sort last and are not counted).
        int n = _s.TopK > 0 ? Math.Min(_s.TopK, candidates) : candidates;
        SelectTop(n);

        // Softmax over the candidates (temperature 1) for top-p and min-p.
        Softmax(n, 1f);
        if (_s.TopP < 1)
        {
            float cum = 0;
            for (int i = 0; i < n; i++)
            {
                cum += _probs[i];
                if (cum >= _s.TopP) { n = i + 1; break; }
            }
        }
        if (_s.MinP > 0)
        {
            float floor = _s.MinP * _probs[0];
            int keep = 1;
            while (keep < n && _probs[keep] >= floor) keep++;
            n = keep;
        }

        // Temperature (the draw follows).
        Softmax(n, temperature);
        return n;
    }

    /// <summary>A seeded draw from _idx[0..n) with probabilities _probs[0..n).</summary>
    private int Draw(int n)
    {
        double r = NextDouble();
        double acc = 0;
        for (int i = 0; i < n; i++)
        {
            acc += _probs[i];
            if (r < acc) return _idx[i];
        }
        return _idx[n - 1];
    }

    private void ApplyPenalties(ReadOnlySpan<int> history)
    {
        if (_s.RepeatPenalty == 1f && _s.FrequencyPenalty == 0f && _s.PresencePenalty == 0f) return;
        var window = history.Length > _s.PenaltyWindow ? history[^_s.PenaltyWindow..] : history;
        foreach (int t in window) if ((uint)t < (uint)_counts.Length) _counts[t]++;
        foreach (int t in window)
        {
            if ((uint)t >= (uint)_counts.Length || _counts[t] == 0) continue;
            ref float l = ref _logits[t];
            l = l <= 0 ? l * _s.RepeatPenalty : l / _s.RepeatPenalty;
            l -= _counts[t] * _s.FrequencyPenalty + _s.PresencePenalty;
            _counts[t] = 0; // each distinct token penalised once
        }
    }

    private static int ArgMax(ReadOnlySpan<float> x)
    {
        int best = 0;
        for (int i = 1; i < x.Length; i++) if (x[i] > x[best]) best = i;
        return best;
    }

    /// <summary>Puts the indices of the <paramref name="n"/> largest logits, sorted descending, in _idx[0..n).</summary>
    private void SelectTop(int n)
    {
        int v = _logits.Length;
        if (n == v)
        {
            for (int i = 0; i < v; i++) _idx[i] = i;
            _idx.AsSpan(0, v).Sort(_byLogit);
            return;
        }
        // Min-heap of size n over the logits, then sort it.
        int size = 0;
        for (int i = 0; i < v; i++)
        {
            if (size < n) { _idx[size++] = i; SiftUp(size - 1); }
            else if (Better(i, _idx[0])) { _idx[0] = i; SiftDown(0, size); }
        }
        _idx.AsSpan(0, n).Sort(_byLogit);
    }

    // Larger logit first; on equal logits the lower id wins (deterministic).
    private bool Better(int a, int b) => _logits[a] > _logits[b] || (_logits[a] == _logits[b] && a < b);

    private void SiftUp(int i)
    {
        while (i > 0)
        {
            int p = (i - 1) / 2;
            if (!Better(_idx[p], _idx[i])) break;
            (_idx[p], _idx[i]) = (_idx[i], _idx[p]);
            i = p;
        }
    }

    private void SiftDown(int i, int size)
    {
        while (true)
        {
            int l = 2 * i + 1, r = l + 1, m = i;
            if (l < size && Better(_idx[m], _idx[l])) m = l;
            if (r < size && Better(_idx[m], _idx[r])) m = r;
            if (m == i) return;
            (_idx[m], _idx[i]) = (_idx[i], _idx[m]);
            i = m;
        }
    }

    private void Softmax(int n, float temperature)
    {
        float max = _logits[_idx[0]] / temperature;
        double sum = 0;
        for (int i = 0; i < n; i++) { float e = MathF.Exp(_logits[_idx[i]] / temperature - max); _probs[i] = e; sum += e; }
        float inv = (float)(1 / sum);
        for (int i = 0; i < n; i++) _probs[i] *= inv;
    }

    private double NextDouble()
    {
        ulong z = _rng += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (z >> 11) * (1.0 / (1UL << 53));
    }
}
