namespace Eurus.Cpu.Model;

/// <summary>
/// The weights of <see cref="SyntheticWeights.Induction"/>: a hand-built copying circuit in the llama architecture as
/// it runs (RMSNorm, GQA attention with GGUF's adjacent-pair RoPE and a 1/sqrt(head_dim) causal softmax, SwiGLU).
/// <para>The residual stream is split into subspaces, every entry about ±1 (or 0) in normalized units: a constant block
/// (32 dims of 1, the same for every token), A (the current token's code E[t], random ±1), B1, B2, B3 (the codes of
/// the tokens 1, 2 and 3 back), QH2 and KH2 (bigram hashes: elementwise products A⊙B1 of the current and previous
/// token, and B1⊙B2 of the two before), QH3 and KH3 (trigram hashes QH2⊙B2 and KH2⊙B3), and C (the copied token).</para>
/// <list type="number">
/// <item>Layer 0 attention — previous-token heads: q and k read only the constant block, on the 12 highest-frequency
/// rotary pairs, k = (a, 0) and q = a·(cos dθ, −sin dθ), so after RoPE the score is Σ a² cos((i − j − d)θ_p), which
/// peaks at i − j = d (d = 1, 2, 3: one query head each, sharing a key head) by a margin of about 30 logits against
/// every other offset up to the context length; the value is A, written to B_d.</item>
/// <item>Layer 0 feed-forward: products. SwiGLU gives silu(a)·b + silu(−a)·(−b) = a·b exactly with two hidden units
/// (gate ±a, up ±b, down +1 +1), so QH2 = A⊙B1 and KH2 = B1⊙B2 at randomly chosen index pairs: the same hash of
/// (newest, older) token, which for two bigrams that differ in either token is uncorrelated.</item>
/// <item>Layer 1 attention — bigram induction heads: q = QH2 at position i, k = KH2 at j, on the lowest-frequency
/// rotary pairs only (their angle stays under 0.8 rad over 1024 positions, so the match survives RoPE), plus a
/// constant pair that adds a small recency bias; the value is A (the token at j), written to C with weight ½. One query
/// head per key head; each key head hashes with its own features (an ensemble whose wrong guesses disagree).</item>
/// <item>Layer 1 feed-forward: QH3 = QH2⊙B2 and KH3 = KH2⊙B3. Layer 2 attention: trigram induction heads as in
/// layer 1, written to C with weight 1, so a trigram match outvotes a bigram one.</item>
/// <item>output_norm keeps only C (its other weights are 0) and output.weight's row t is E[t], so the argmax is the
/// copied token.</item>
/// </list>
/// The other layers keep random Q, K, V, gate and up matrices (as <see cref="SyntheticWeights.Random"/>) but zero
/// attn_output and ffn_down: full cost, no effect. Matrices hold only 0 and a single value per quantization block row
/// (scales live in the F32 norms), which Q8_0, Q4_0 and K-quants store almost exactly.
/// </summary>
internal sealed class InductionWeights
{
    /// <summary>Width of the constant block (one whole quantization block, so it quantizes exactly).</summary>
    private const int ConstWidth = 32;
    /// <summary>Rotary pairs (highest frequencies) that position the previous-token heads.</summary>
    private const int PrevPairs = 12;
    /// <summary>Logit margin of the previous-token heads' peak over the next-best offset.</summary>
    private const double PrevMarginLogits = 30;
    /// <summary>Offsets over which the content pairs of the induction heads must not rotate much.</summary>
    private const int MatchSpan = 1024;
    /// <summary>Largest rotation (radians) of a content pair over <see cref="MatchSpan"/>.</summary>
    private const double MaxContentAngle = 0.8;
    /// <summary>Logits per unit of hash agreement in the induction heads (a full match is one unit per content dim).</summary>
    private const double InductionLogitPerUnit = 1.25;
    /// <summary>Logits by which an induction head prefers a match right behind over one <see cref="MatchSpan"/> back.</summary>
    private const double RecencyLogits = 3;
    /// <summary>Weights of the bigram and trigram heads' writes to C.</summary>
    private const double BigramWeight = 0.5, TrigramWeight = 1;
    /// <summary>The logit of the copied token when C is exactly its code.</summary>
    private const double OutputLogits = 20;
    /// <summary>Largest token code.</summary>
    private const int MaxCode = 256;

    private readonly int _dim, _hd, _group, _kvHeads, _ffn, _vocab;
    private readonly ulong _seed;
    private readonly int _codeDim, _hashDim, _slices, _kvPerSlice;
    // Subspace offsets in the residual stream.
    private readonly int _a, _b1, _b2, _b3, _qh2, _kh2, _qh3, _kh3, _c;
    private readonly int[] _contentPairs;
    private readonly int _recencyPair;
    private readonly double[] _prevTheta;
    private readonly double _prevAmplitude, _recencyAmplitude, _matchAmplitude;
    private readonly int[] _sigma, _tau, _upsilon;
    private readonly float[] _rms;

    /// <summary>The smallest margin (fraction of the peak) of the previous-token score over other offsets.</summary>
    public double PreviousTokenMargin { get; }

    /// <summary>Plans the circuit for <paramref name="o"/>'s shape and a vocabulary of <paramref name="vocab"/> tokens.</summary>
    public InductionWeights(SyntheticModelOptions o, int vocab)
    {
        _dim = o.Dim; _hd = o.HeadDim; _group = o.Heads / o.KvHeads; _kvHeads = o.KvHeads; _ffn = o.FeedForward; _vocab = vocab;
        _seed = o.Seed;
        if (o.Layers < 3) throw new ArgumentException("The induction circuit needs at least 3 layers.", nameof(o));
        if (_hd < 64) throw new ArgumentException("The induction circuit needs a head dimension of at least 64.", nameof(o));

        // Rotary frequencies θ_p = base^(−2p/head_dim): the previous-token heads use the highest, the content of the
        // induction heads the lowest (angle ≤ MaxContentAngle over MatchSpan), recency the pair nearest π/MatchSpan.
        int pairs = _hd / 2;
        double Theta(int p) => Math.Pow(o.RopeTheta, -2.0 * p / _hd);
        _contentPairs = Enumerable.Range(PrevPairs, pairs - PrevPairs).Where(p => Theta(p) * MatchSpan <= MaxContentAngle).ToArray();
        _recencyPair = Enumerable.Range(PrevPairs, pairs - PrevPairs).Where(p => !_contentPairs.Contains(p))
            .OrderBy(p => Math.Abs(Theta(p) * MatchSpan - Math.PI)).DefaultIfEmpty(-1).First();
        if (_contentPairs.Length < 6 || _recencyPair < 0)
            throw new ArgumentException($"RoPE base {o.RopeTheta} and head dimension {_hd} leave too few slow rotary pairs for the induction heads.", nameof(o));
        int m = 2 * _contentPairs.Length;

        _hashDim = checked(m * _kvHeads);
        _codeDim = Math.Min(MaxCode, (_dim - ConstWidth - 4 * _hashDim) / 5 / 8 * 8);
        if (_codeDim < 32)
            throw new ArgumentException($"Dim {_dim} is too small for the induction circuit (needs at least {ConstWidth + 4 * _hashDim + 5 * 32}).", nameof(o));
        _slices = (_codeDim + _hd - 1) / _hd;
        _kvPerSlice = (3 + _group - 1) / _group;
        if (checked(_slices * _kvPerSlice) > _kvHeads)
            throw new ArgumentException($"The previous-token heads need {_slices * _kvPerSlice} key/value heads; the model has {_kvHeads}.", nameof(o));
        if (checked(4 * _hashDim) > _ffn)
            throw new ArgumentException($"The hash products need a feed-forward size of at least {4 * _hashDim}.", nameof(o));

        _a = ConstWidth;
        _b1 = _a + _codeDim; _b2 = _b1 + _codeDim; _b3 = _b2 + _codeDim;
        _qh2 = _b3 + _codeDim; _kh2 = _qh2 + _hashDim; _qh3 = _kh2 + _hashDim; _kh3 = _qh3 + _hashDim;
        _c = _kh3 + _hashDim;

        // Previous-token heads: equal weight on pairs 0..11; the score's worst margin over offsets 1..context decides
        // the amplitude that makes it PrevMarginLogits.
        _prevTheta = Enumerable.Range(0, PrevPairs).Select(Theta).ToArray();
        double worst = double.MaxValue;
        for (int delta = 1; delta < Math.Max(o.ContextLength, 2); delta++)
        {
            double f = 0;
            for (int p = 0; p < PrevPairs; p++) f += Math.Cos(delta * _prevTheta[p]);
            worst = Math.Min(worst, 1 - f / PrevPairs);
        }
        PreviousTokenMargin = worst;
        double total = PrevMarginLogits * Math.Sqrt(_hd) / worst; // Σ_p a_p² such that margin · total / sqrt(hd) = PrevMarginLogits
        _prevAmplitude = Math.Sqrt(total / PrevPairs);
        _recencyAmplitude = Math.Sqrt(RecencyLogits * Math.Sqrt(_hd) / 2);
        _matchAmplitude = Math.Sqrt(InductionLogitPerUnit * Math.Sqrt(_hd));

        var rng = new Random(unchecked((int)(o.Seed * 2654435761UL >> 7)));
        _sigma = Enumerable.Range(0, _hashDim).Select(_ => rng.Next(_codeDim)).ToArray();
        _tau = Enumerable.Range(0, _hashDim).Select(_ => rng.Next(_codeDim)).ToArray();
        _upsilon = Enumerable.Range(0, _hashDim).Select(_ => rng.Next(_codeDim)).ToArray();

        // Expected sum of squares of the residual stream at the input of each circuit sublayer (entries ±1), so each
        // norm can scale the normalized stream back to those units: layer 0 attention, layer 0 FFN, layer 1
        // attention, layer 1 FFN, layer 2 attention, output.
        double s0 = ConstWidth + _codeDim, s1 = s0 + 3 * _codeDim, s2 = s1 + 2 * _hashDim;
        double s3 = s2 + BigramWeight * BigramWeight * _codeDim, s4 = s3 + 2 * _hashDim;
        double s5 = s4 + (BigramWeight + TrigramWeight) * (BigramWeight + TrigramWeight) * _codeDim;
        _rms = new[] { s0, s1, s2, s3, s4, s5 }.Select(s => (float)Math.Sqrt(s / _dim)).ToArray();
    }

    /// <summary>Width of the token codes (A, B1..B3, C).</summary>
    public int CodeDim => _codeDim;

    /// <summary>
    /// The row generator of tensor <paramref name="name"/> (row index, row to fill), or null where the tensor keeps
    /// the random model's values (Q, K, V, gate and up of the layers past the circuit).
    /// </summary>
    public Action<long, float[]>? Rows(string name)
    {
        switch (name)
        {
            case "token_embd.weight": return (t, row) => { Clear(row); row.AsSpan(0, ConstWidth).Fill(1); Code(t, row.AsSpan(_a, _codeDim)); };
            case "output.weight": return (t, row) => { Clear(row); Code(t, row.AsSpan(_c, _codeDim)); };
            case "output_norm.weight":
                return (_, row) => { Clear(row); row.AsSpan(_c, _codeDim).Fill((float)(OutputLogits / _codeDim * _rms[5])); };
        }
        var parts = name.Split('.');
        int layer = int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
        string kind = parts[2];
        if (layer >= 3)
            return kind switch
            {
                "attn_norm" or "ffn_norm" => (_, row) => Array.Fill(row, 1f),
                "attn_output" or "ffn_down" => (_, row) => Clear(row),
                _ => null,
            };
        return (layer, kind) switch
        {
            (0, "attn_norm") => Fill(_rms[0]),
            (0, "ffn_norm") => Fill(_rms[1]),
            (1, "attn_norm") => Fill(_rms[2]),
            (1, "ffn_norm") => Fill(_rms[3]),
            (2, "attn_norm") => Fill(_rms[4]),
            (2, "ffn_norm") => Fill(1),
            (0, "attn_q") => PrevQuery,
            (0, "attn_k") => PrevKey,
            (_, "attn_v") => (r, row) => Value(layer, r, row),
            (0, "attn_output") => PrevOutput,
            (1, "attn_q") => (r, row) => InductionQueryOrKey(r, row, _qh2, query: true),
            (1, "attn_k") => (r, row) => InductionQueryOrKey(r, row, _kh2, query: false),
            (2, "attn_q") => (r, row) => InductionQueryOrKey(r, row, _qh3, query: true),
            (2, "attn_k") => (r, row) => InductionQueryOrKey(r, row, _kh3, query: false),
            (1, "attn_output") => (r, row) => InductionOutput(r, row, BigramWeight),
            (2, "attn_output") => (r, row) => InductionOutput(r, row, TrigramWeight),
            (0, "ffn_gate") => (r, row) => ProductFactor(r, row, first: true, Layer0Product),
            (0, "ffn_up") => (r, row) => ProductFactor(r, row, first: false, Layer0Product),
            (1, "ffn_gate") => (r, row) => ProductFactor(r, row, first: true, Layer1Product),
            (1, "ffn_up") => (r, row) => ProductFactor(r, row, first: false, Layer1Product),
            (0, "ffn_down") => (r, row) => ProductSum(r, row, _qh2),
            (1, "ffn_down") => (r, row) => ProductSum(r, row, _qh3),
            (2, "ffn_gate" or "ffn_up" or "ffn_down") => (_, row) => Clear(row),
            _ => throw new ArgumentException($"Unexpected tensor {name}.", nameof(name)),
        };
    }

    private static Action<long, float[]> Fill(float value) => (_, row) => Array.Fill(row, value);

    private static void Clear(float[] row) => Array.Clear(row);

    /// <summary>Token <paramref name="t"/>'s code: ±1 per dimension from the seed.</summary>
    private void Code(long t, Span<float> code)
    {
        for (int k = 0; k < code.Length; k++)
            code[k] = (Mix(_seed ^ Mix(((ulong)t << 20) + (ulong)k + 0x5DEECE66DUL)) & 1) == 0 ? 1f : -1f;
    }

    /// <summary>The offset (1..3) and code slice of query head <paramref name="qh"/> in layer 0, or offset 0 for none.</summary>
    private (int Offset, int Slice) PrevTask(int qh)
    {
        int kv = qh / _group, slot = qh % _group;
        if (kv >= _slices * _kvPerSlice) return (0, 0);
        int offset = (kv % _kvPerSlice) * _group + slot + 1;
        return offset <= 3 ? (offset, kv / _kvPerSlice) : (0, 0);
    }

    /// <summary>The code slice that key/value head <paramref name="kv"/> carries as its value.</summary>
    private int ValueSlice(int layer, int kv) => layer == 0 ? Math.Min(kv / _kvPerSlice, _slices - 1) : kv % _slices;

    private void PrevQuery(long r, float[] row)
    {
        Clear(row);
        int qh = (int)(r / _hd), e = (int)(r % _hd), p = e / 2;
        var (d, _) = PrevTask(qh);
        if (d == 0 || p >= PrevPairs) return;
        double v = _prevAmplitude * (e % 2 == 0 ? Math.Cos(d * _prevTheta[p]) : -Math.Sin(d * _prevTheta[p]));
        row.AsSpan(0, ConstWidth).Fill((float)(v / ConstWidth));
    }

    private void PrevKey(long r, float[] row)
    {
        Clear(row);
        int e = (int)(r % _hd), p = e / 2;
        if (p < PrevPairs && e % 2 == 0) row.AsSpan(0, ConstWidth).Fill((float)(_prevAmplitude / ConstWidth));
    }

    /// <summary>Values of layers 0–2: each key/value head carries its slice of A (in layer 0 only the heads in use).</summary>
    private void Value(int layer, long r, float[] row)
    {
        Clear(row);
        int kv = (int)(r / _hd), e = (int)(r % _hd);
        if (layer == 0 && kv >= _slices * _kvPerSlice) return;
        int k = ValueSlice(layer, kv) * _hd + e;
        if (k < _codeDim) row[_a + k] = 1;
    }

    private void PrevOutput(long r, float[] row)
    {
        Clear(row);
        int k = (int)r;
        for (int d = 1; d <= 3; d++)
        {
            int start = d switch { 1 => _b1, 2 => _b2, _ => _b3 };
            if (k < start || k >= start + _codeDim) continue;
            int i = k - start, slice = i / _hd, e = i % _hd;
            for (int qh = 0; qh < _group * _kvHeads; qh++)
                if (PrevTask(qh) == (d, slice)) row[qh * _hd + e] = 1;
        }
    }

    /// <summary>
    /// Query (from QH) or key (from KH) rows of an induction layer: key/value head h hashes with features
    /// h·m .. h·m + m − 1 on its content pairs, and both carry a constant on the recency pair. Only the first query
    /// head of each group is used.
    /// </summary>
    private void InductionQueryOrKey(long r, float[] row, int hashStart, bool query)
    {
        Clear(row);
        int head = (int)(r / _hd), e = (int)(r % _hd), p = e / 2;
        if (query && head % _group != 0) return;
        int kv = query ? head / _group : head;
        if (p == _recencyPair)
        {
            if (e % 2 == 0) row.AsSpan(0, ConstWidth).Fill((float)(_recencyAmplitude / ConstWidth));
            return;
        }
        int u = Array.IndexOf(_contentPairs, p);
        if (u < 0) return;
        int feature = kv * 2 * _contentPairs.Length + 2 * u + e % 2;
        row[hashStart + feature] = (float)_matchAmplitude;
    }

    private void InductionOutput(long r, float[] row, double weight)
    {
        Clear(row);
        int k = (int)r - _c;
        if (k < 0 || k >= _codeDim) return;
        int slice = k / _hd, e = k % _hd;
        int writers = 0;
        for (int kv = 0; kv < _kvHeads; kv++) if (ValueSlice(1, kv) == slice) writers++;
        for (int kv = 0; kv < _kvHeads; kv++)
            if (ValueSlice(1, kv) == slice) row[kv * _group * _hd + e] = (float)(weight / writers);
    }

    /// <summary>The two factors (residual indices) of product <paramref name="k"/> in layer 0's FFN: QH2, then KH2.</summary>
    private (int First, int Second) Layer0Product(int k) =>
        k < _hashDim ? (_a + _sigma[k], _b1 + _tau[k]) : (_b1 + _sigma[k - _hashDim], _b2 + _tau[k - _hashDim]);

    /// <summary>The two factors of product <paramref name="k"/> in layer 1's FFN: QH3 = QH2⊙B2, then KH3 = KH2⊙B3.</summary>
    private (int First, int Second) Layer1Product(int k) =>
        k < _hashDim ? (_qh2 + k, _b2 + _upsilon[k]) : (_kh2 + k - _hashDim, _b3 + _upsilon[k - _hashDim]);

    /// <summary>
    /// Gate (first factor) or up (second factor) row of hidden unit r: units 2k and 2k + 1 compute product k as
    /// silu(a)·b and silu(−a)·(−b), whose sum is a·b.
    /// </summary>
    private void ProductFactor(long r, float[] row, bool first, Func<int, (int, int)> product)
    {
        Clear(row);
        int k = (int)(r / 2);
        if (k >= 2 * _hashDim) return;
        var (a, b) = product(k);
        row[first ? a : b] = r % 2 == 0 ? 1 : -1;
    }

    /// <summary>Down row of residual index r: the sum of its product's two hidden units, for the 2·hashDim outputs from <paramref name="start"/>.</summary>
    private void ProductSum(long r, float[] row, int start)
    {
        Clear(row);
        int k = (int)r - start;
        if (k < 0 || k >= 2 * _hashDim) return;
        row[2 * k] = 1;
        row[2 * k + 1] = 1;
    }

    /// <summary>SplitMix64 finaliser.</summary>
    private static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
