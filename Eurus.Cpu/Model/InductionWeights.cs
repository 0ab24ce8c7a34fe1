namespace Eurus.Cpu.Model;

/// <summary>
/// The weights of <see cref="SyntheticWeights.Induction"/>: a hand-built copying circuit in the llama architecture as
/// it runs (RMSNorm, GQA attention with GGUF's adjacent-pair RoPE and a 1/sqrt(head_dim) causal softmax, SwiGLU).
/// Constructed, not trained.
/// <para>The residual stream is split into subspaces, each starting on a 32-block, whose entries are about ±1 (or 0)
/// in normalized units: a constant block (32 dims of 1 for every token but BOS), a sink block (32 dims of 1 for BOS
/// only), A (the current token's code E[t]: random ±1, the first of each 32 a pin of 8/7), Bd (the code of the token
/// d back, d = 1..5, 8, 9), for orders n = 2..6 the hashes QHn (of the current token and the ones before it) and KHn
/// (of the tokens before the current one), and C (the copied token's code, written small).</para>
/// <list type="number">
/// <item>Layer 0 attention — previous-token heads: q and k read only the constant block, on the 12 highest-frequency
/// rotary pairs, k = (a, 0) and q = a·(cos dθ, −sin dθ), so after RoPE the score is Σ_p a² cos((i − j − d)θ_p), which
/// peaks at i − j = d by a margin of 30 logits over every other offset up to the context length (one query head per
/// d; the query heads of a group share a key head); BOS scores 15 logits under the peak on the slowest pair, so where
/// the offset does not exist yet it wins and its zero code is read. The value is A, written to Bd.</item>
/// <item>Feed-forward layers 0..4 — hashes. SwiGLU gives silu(a)·b + silu(−a)·(−b) = a·b exactly with two hidden
/// units (gate ±a, up ±b, down +1 +1). Layer 0 computes QH2 = A⊙B1 and KH2 = B1⊙B2 at random index pairs (the same
/// hash of (newest, older) token) and layer n − 2 extends them by one more token: QHn = QH(n−1)⊙B(f), KHn =
/// KH(n−1)⊙B(f+1), f = 2, 3, 4, then 8 for order 6 (a skip-gram, so places inside a run of up to 8 equal tokens
/// differ). Contexts that differ anywhere get uncorrelated ±1 hashes.</item>
/// <item>Attention layers 1..5 (orders 2..6) and 6 (order 1: A against B1) — induction heads: q = QHn at position i,
/// k = KHn at j, on the slowest rotary pairs but one (their angle stays under 1 rad over 1024 positions, so a match
/// survives RoPE: full match 2.5 logits per dim, 28 dims), so a head attends where the same context stood before and
/// reads the token that followed (value A, written to C with weight 2^(n−6): a longer match outweighs all shorter
/// ones). Each key head hashes with its own features (an ensemble whose wrong guesses disagree). BOS is an attention
/// sink: on the slowest pair it scores 80% of a full match and its value is zero, so a head with no match writes
/// almost nothing. A pair near π/1024 adds a recency bias of 2 logits over 1024 positions.</item>
/// <item>output_norm keeps only C (its other weights are 0) and output.weight's row t is E[t], so the argmax is the
/// copied token.</item>
/// </list>
/// The layers past the circuit keep random Q, K, V, gate and up matrices (as <see cref="SyntheticWeights.Random"/>)
/// but zero attn_output and ffn_down: full cost, no effect. Matrices hold only zeros and one value per quantization
/// block (scales live in the F32 norms), which Q8_0, Q4_0 and the K-quants store almost exactly. Each norm is the RMS
/// the stream is planned to have there, so normalized entries stay ±1 through the chain of products.
/// </summary>
internal sealed class InductionWeights
{
    /// <summary>Width of the constant and sink blocks (one whole quantization block each, so they quantize exactly).</summary>
    private const int BlockWidth = 32;
    /// <summary>Highest order matched: orders 1..5 are n-grams, order 6 a skip-gram (see <see cref="FactorOffset"/>).</summary>
    public const int MaxOrder = 6;
    /// <summary>
    /// Layers the circuit takes: 0 (previous-token heads, bigram hashes), 1..5 (induction of orders 2..6, the next
    /// hashes), 6 (unigram induction, the fallback when nothing longer matches).
    /// </summary>
    public const int CircuitLayers = MaxOrder + 1;
    /// <summary>
    /// How many tokens back (from the current one) the factor that order n adds to the query's hash stands: order 2
    /// hashes the current token with the one 1 back, order n − 1's hash times the token FactorOffset[n] back; the
    /// key's hash uses the tokens one further back. Order 6 reaches 8 back, skipping 5..7, so positions inside a run of
    /// up to 8 equal tokens (indentation made of single-space tokens) hash differently.
    /// </summary>
    private static readonly int[] FactorOffset = [0, 0, 1, 2, 3, 4, 8];
    /// <summary>The offsets the previous-token heads provide: every FactorOffset[n] and FactorOffset[n] + 1.</summary>
    private static readonly int[] BackOffsets = FactorOffset.Skip(2).SelectMany(d => new[] { d, d + 1 }).Distinct().Order().ToArray();
    /// <summary>Rotary pairs (highest frequencies) that position the previous-token heads.</summary>
    private const int PrevPairs = 12;
    /// <summary>Logit margin of the previous-token heads' peak over the next-best offset.</summary>
    private const double PrevMarginLogits = 30;
    /// <summary>Offsets over which the content pairs of the induction heads must not rotate much.</summary>
    private const int MatchSpan = 1024;
    /// <summary>Largest rotation (radians) of a content pair over <see cref="MatchSpan"/>.</summary>
    private const double MaxContentAngle = 1.0;
    /// <summary>Logits per unit of hash agreement in the induction heads (a full match is one unit per content dim).</summary>
    private const double InductionLogitPerUnit = 2.5;
    /// <summary>The sink's score as a fraction of a full match.</summary>
    private const double SinkFraction = 0.8;
    /// <summary>Logits by which an induction head prefers a match right behind over one <see cref="MatchSpan"/> back.</summary>
    private const double RecencyLogits = 2;
    /// <summary>The logit of the copied token when C is exactly its code.</summary>
    private const double OutputLogits = 20;
    /// <summary>Largest token code.</summary>
    private const int MaxCode = 256;
    /// <summary>
    /// The value of the first dimension of each 32-block of a code, the same for every token and never hashed. Q4_0
    /// scales a block by its first largest value v (d = v/−8) and clamps −v to 7/8 of itself; with 8/7 first, d = ∓1/7
    /// and ±1 are exact (also in Q4_K: the range −1..8/7 in steps of 1/7).
    /// </summary>
    private const double Pin = 8.0 / 7.0;
    /// <summary>
    /// Scale of the writes to C: small, so the copied token's code barely moves the RMS that the later norms plan for
    /// (it differs between a match and none); output_norm scales it back.
    /// </summary>
    private const double CScale = 1.0 / 16;

    private readonly int _dim, _hd, _group, _kvHeads, _bos;
    private readonly ulong _seed;
    private readonly int _codeDim, _hashDim, _slices, _kvPerSlice, _contentDims;
    // Subspace offsets in the residual stream: A, Bd for d in BackOffsets (_back[d], _back[0] = A), QHn/KHn (_qh[n], _kh[n]), C.
    private readonly int _sink, _a, _c;
    private readonly int[] _back, _qh, _kh;
    private readonly int[] _contentPairs;
    private readonly int _sinkPair, _recencyPair;
    private readonly double[] _prevTheta;
    private readonly double _prevAmplitude, _prevSinkAmplitude, _recencyAmplitude, _matchAmplitude, _sinkAmplitude;
    private readonly int[] _sigma, _tau;
    private readonly int[][] _upsilon;
    private readonly float[] _attnRms, _ffnRms;
    private readonly float _outputRms, _bosRms;

    /// <summary>The smallest margin (fraction of the peak) of the previous-token score over other offsets.</summary>
    public double PreviousTokenMargin { get; }

    /// <summary>Width of the token codes (A, the Bd, C).</summary>
    public int CodeDim => _codeDim;

    /// <summary>Plans the circuit for <paramref name="o"/>'s shape, a vocabulary of <paramref name="vocab"/> tokens and BOS id <paramref name="bos"/>.</summary>
    public InductionWeights(SyntheticModelOptions o, int vocab, int bos)
    {
        _dim = o.Dim; _hd = o.HeadDim; _group = o.Heads / o.KvHeads; _kvHeads = o.KvHeads; _bos = bos;
        _seed = o.Seed;
        if (o.Layers < CircuitLayers) throw new ArgumentException($"The induction circuit needs at least {CircuitLayers} layers.", nameof(o));
        if (_hd < 64) throw new ArgumentException("The induction circuit needs a head dimension of at least 64.", nameof(o));
        if ((uint)bos >= (uint)vocab) throw new ArgumentException("The BOS id is outside the vocabulary.", nameof(o));

        // Rotary frequencies θ_p = base^(−2p/head_dim): the previous-token heads use the highest; the induction heads'
        // sink the lowest, their content the next lowest (angle ≤ MaxContentAngle over MatchSpan), recency the pair
        // nearest π/MatchSpan (its cosine falls over the whole span).
        int pairs = _hd / 2;
        double Theta(int p) => Math.Pow(o.RopeTheta, -2.0 * p / _hd);
        _sinkPair = pairs - 1;
        _contentPairs = Enumerable.Range(PrevPairs, pairs - 1 - PrevPairs).Where(p => Theta(p) * MatchSpan <= MaxContentAngle).ToArray();
        _recencyPair = Enumerable.Range(PrevPairs, pairs - 1 - PrevPairs).Where(p => !_contentPairs.Contains(p))
            .OrderBy(p => Math.Abs(Theta(p) * MatchSpan - Math.PI)).DefaultIfEmpty(-1).First();
        if (_contentPairs.Length < 6 || _recencyPair < 0)
            throw new ArgumentException($"RoPE base {o.RopeTheta} and head dimension {_hd} leave too few slow rotary pairs for the induction heads.", nameof(o));
        _contentDims = 2 * _contentPairs.Length;

        int orders = MaxOrder - 1;
        _hashDim = checked(_contentDims * _kvHeads);
        // Every subspace starts at a multiple of 32 (a quantization block), hence the rounding up.
        int fixedDims = checked(2 * BlockWidth + orders * Align(2 * _hashDim));
        int codes = BackOffsets.Length + 2; // A, the Bd, C
        _codeDim = Math.Min(MaxCode, (_dim - fixedDims) / codes / BlockWidth * BlockWidth);
        if (_codeDim < 32)
            throw new ArgumentException($"Dim {_dim} is too small for the induction circuit (needs at least {fixedDims + codes * BlockWidth}).", nameof(o));
        _slices = (_codeDim + _hd - 1) / _hd;
        _kvPerSlice = (BackOffsets.Length + _group - 1) / _group;
        if (checked(_slices * _kvPerSlice) > _kvHeads)
            throw new ArgumentException($"The previous-token heads need {_slices * _kvPerSlice} key/value heads; the model has {_kvHeads}.", nameof(o));
        if (checked(4 * _hashDim) > o.FeedForward)
            throw new ArgumentException($"The hash products need a feed-forward size of at least {4 * _hashDim}.", nameof(o));

        _sink = BlockWidth;
        _a = 2 * BlockWidth;
        _back = new int[BackOffsets[^1] + 1];
        _back[0] = _a;
        for (int i = 0; i < BackOffsets.Length; i++) _back[BackOffsets[i]] = _a + (i + 1) * _codeDim;
        _qh = new int[MaxOrder + 1];
        _kh = new int[MaxOrder + 1];
        int next = _a + (BackOffsets.Length + 1) * _codeDim;
        for (int n = 2; n <= MaxOrder; n++)
        {
            _qh[n] = next; _kh[n] = next + _hashDim; next += Align(2 * _hashDim);
        }
        _c = next;
        if (_c + _codeDim > _dim) throw new InvalidOperationException("The subspaces overrun the residual stream."); // cannot happen: fixedDims counts them

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
        double total = PrevMarginLogits * Math.Sqrt(_hd) / worst; // Σ_p a_p², so that margin · total / sqrt(hd) = PrevMarginLogits
        _prevAmplitude = Math.Sqrt(total / PrevPairs);
        // BOS scores half a margin under the peak: it wins where the offset does not exist yet (i < d), so those
        // positions read BOS's zero code.
        _prevSinkAmplitude = Math.Sqrt((total - PrevMarginLogits / 2 * Math.Sqrt(_hd)));
        _recencyAmplitude = Math.Sqrt(RecencyLogits * Math.Sqrt(_hd) / 2);
        _matchAmplitude = Math.Sqrt(InductionLogitPerUnit * Math.Sqrt(_hd));
        _sinkAmplitude = Math.Sqrt(SinkFraction * _contentDims * InductionLogitPerUnit * Math.Sqrt(_hd));

        var rng = new Random(unchecked((int)(o.Seed * 2654435761UL >> 7)));
        int[] Map() => Enumerable.Range(0, _hashDim).Select(_ => { int k; do k = rng.Next(_codeDim); while (IsPin(k)); return k; }).ToArray();
        _sigma = Map();
        _tau = Map();
        _upsilon = new int[MaxOrder + 1][];
        for (int n = 3; n <= MaxOrder; n++) _upsilon[n] = Map();

        // Expected sum of squares of the residual stream (entries ±1) at the input of each circuit sublayer, so each
        // norm scales the normalized stream back to those units. C is counted as if every order agreed.
        _attnRms = new float[CircuitLayers];
        _ffnRms = new float[CircuitLayers];
        int pins = (_codeDim + BlockWidth - 1) / BlockWidth;
        double code = _codeDim - pins + pins * Pin * Pin; // a code's sum of squares
        double sum = BlockWidth + code, cWeight = 0;
        float Rms(double s) => (float)Math.Sqrt(s / _dim);
        for (int l = 0; l < CircuitLayers; l++)
        {
            _attnRms[l] = Rms(sum + cWeight * cWeight * code);
            if (l == 0) sum += BackOffsets.Length * code;
            else cWeight += CScale * OrderWeight(InductionOrder(l));
            _ffnRms[l] = Rms(sum + cWeight * cWeight * code);
            if (l + 2 <= MaxOrder) sum += 2 * _hashDim;
        }
        _outputRms = Rms(sum + cWeight * cWeight * code);
        _bosRms = Rms(BlockWidth);
    }

    /// <summary>The n-gram order of layer <paramref name="layer"/>'s induction heads (layers 1..CircuitLayers − 1).</summary>
    private static int InductionOrder(int layer) => layer < MaxOrder ? layer + 1 : 1;

    /// <summary>
    /// The weight of order <paramref name="n"/>'s write to C: 2^(n − MaxOrder), so a match of one order outweighs all
    /// shorter orders together (a head without a match writes almost nothing: it attends to the sink).
    /// </summary>
    private static double OrderWeight(int n) => Math.Pow(2, n - MaxOrder);

    /// <summary>
    /// The row generator of tensor <paramref name="name"/> (row index, row to fill), or null where the tensor keeps
    /// the random model's values (Q, K, V, gate and up of the layers past the circuit).
    /// </summary>
    public Action<long, float[]>? Rows(string name)
    {
        switch (name)
        {
            case "token_embd.weight": return Embedding;
            case "output.weight": return (t, row) => { Clear(row); Code(t, row.AsSpan(_c, _codeDim)); };
            case "output_norm.weight":
                return (_, row) => { Clear(row); row.AsSpan(_c, _codeDim).Fill((float)(OutputLogits / _codeDim / CScale * _outputRms)); };
        }
        var parts = name.Split('.');
        int layer = int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
        string kind = parts[2];
        if (layer >= CircuitLayers)
            return kind switch
            {
                "attn_norm" or "ffn_norm" => (_, row) => Array.Fill(row, 1f),
                "attn_output" or "ffn_down" => (_, row) => Clear(row),
                _ => null,
            };
        int order = InductionOrder(layer); // of this layer's attention (layer ≥ 1)
        int product = layer + 2; // the hash order this layer's feed-forward computes (≤ MaxOrder)
        return kind switch
        {
            "attn_norm" => Norm(_attnRms[layer]),
            "ffn_norm" => Norm(_ffnRms[layer]),
            "attn_q" when layer == 0 => PrevQuery,
            "attn_k" when layer == 0 => PrevKey,
            "attn_output" when layer == 0 => PrevOutput,
            "attn_q" => (r, row) => InductionQueryOrKey(r, row, order, query: true),
            "attn_k" => (r, row) => InductionQueryOrKey(r, row, order, query: false),
            "attn_v" => (r, row) => Value(layer, r, row),
            "attn_output" => (r, row) => InductionOutput(r, row, OrderWeight(order)),
            "ffn_gate" when product <= MaxOrder => (r, row) => ProductFactor(r, row, first: true, product),
            "ffn_up" when product <= MaxOrder => (r, row) => ProductFactor(r, row, first: false, product),
            "ffn_down" when product <= MaxOrder => (r, row) => ProductSum(r, row, _qh[product]),
            "ffn_gate" or "ffn_up" or "ffn_down" => (_, row) => Clear(row),
            _ => throw new ArgumentException($"Unexpected tensor {name}.", nameof(name)),
        };
    }

    private static void Clear(float[] row) => Array.Clear(row);

    /// <summary>Embedding row t: BOS only the sink block; other tokens the constant block and their code in A.</summary>
    private void Embedding(long t, float[] row)
    {
        Clear(row);
        if (t == _bos)
        {
            row.AsSpan(_sink, BlockWidth).Fill(1);
            return;
        }
        row.AsSpan(0, BlockWidth).Fill(1);
        Code(t, row.AsSpan(_a, _codeDim));
    }

    /// <summary>
    /// A norm of the circuit: <paramref name="rms"/> (the planned RMS of other tokens' streams) everywhere but on the
    /// sink block, which only BOS's stream holds (unchanged through the circuit: its values and hashes are zero), so
    /// it gets BOS's own RMS and normalizes back to 1.
    /// </summary>
    private Action<long, float[]> Norm(float rms) => (_, row) =>
    {
        Array.Fill(row, rms);
        row.AsSpan(_sink, BlockWidth).Fill(_bosRms);
    };

    /// <summary>
    /// Token <paramref name="t"/>'s code: ±1 per dimension from the seed, except the first dimension of each 32-block,
    /// a pin of 8/7 for every token (see <see cref="Pin"/>).
    /// </summary>
    private void Code(long t, Span<float> code)
    {
        for (int k = 0; k < code.Length; k++)
            code[k] = IsPin(k) ? (float)Pin : (Mix(_seed ^ Mix(((ulong)t << 20) + (ulong)k + 0x5DEECE66DUL)) & 1) == 0 ? 1f : -1f;
    }

    /// <summary>Whether code dimension <paramref name="k"/> is a pin (the first of its quantization block).</summary>
    private static bool IsPin(int k) => k % BlockWidth == 0;

    /// <summary>Rounds <paramref name="n"/> up to a whole number of 32-blocks.</summary>
    private static int Align(int n) => checked((n + BlockWidth - 1) / BlockWidth * BlockWidth);

    /// <summary>The offset (1..6) and code slice of query head <paramref name="qh"/> in layer 0, or offset 0 for none.</summary>
    private (int Offset, int Slice) PrevTask(int qh)
    {
        int kv = qh / _group, slot = qh % _group;
        if (kv >= _slices * _kvPerSlice) return (0, 0);
        int offset = (kv % _kvPerSlice) * _group + slot + 1;
        return offset <= BackOffsets.Length ? (BackOffsets[offset - 1], kv / _kvPerSlice) : (0, 0);
    }

    /// <summary>The code slice that key/value head <paramref name="kv"/> carries as its value.</summary>
    private int ValueSlice(int layer, int kv) => layer == 0 ? kv / _kvPerSlice : kv % _slices;

    private void PrevQuery(long r, float[] row)
    {
        Clear(row);
        int qh = (int)(r / _hd), e = (int)(r % _hd), p = e / 2;
        var (d, _) = PrevTask(qh);
        if (d == 0) return;
        if (p == _sinkPair && e % 2 == 0) row.AsSpan(0, BlockWidth).Fill((float)(_prevSinkAmplitude / BlockWidth));
        if (p >= PrevPairs) return;
        double v = _prevAmplitude * (e % 2 == 0 ? Math.Cos(d * _prevTheta[p]) : -Math.Sin(d * _prevTheta[p]));
        row.AsSpan(0, BlockWidth).Fill((float)(v / BlockWidth));
    }

    private void PrevKey(long r, float[] row)
    {
        Clear(row);
        int e = (int)(r % _hd), p = e / 2;
        if (p < PrevPairs && e % 2 == 0) row.AsSpan(0, BlockWidth).Fill((float)(_prevAmplitude / BlockWidth));
        if (p == _sinkPair && e % 2 == 0) row.AsSpan(_sink, BlockWidth).Fill((float)(_prevSinkAmplitude / BlockWidth));
    }

    /// <summary>Values: each key/value head carries its slice of A (in layer 0 only the heads in use).</summary>
    private void Value(int layer, long r, float[] row)
    {
        Clear(row);
        int kv = (int)(r / _hd), e = (int)(r % _hd);
        if (layer == 0 && kv >= _slices * _kvPerSlice) return;
        int k = ValueSlice(layer, kv) * _hd + e;
        if (k < _codeDim) row[_a + k] = 1;
    }

    /// <summary>Layer 0's output: query head (d, slice) writes its value to that slice of Bd.</summary>
    private void PrevOutput(long r, float[] row)
    {
        Clear(row);
        int k = (int)r;
        foreach (int d in BackOffsets)
        {
            if (k < _back[d] || k >= _back[d] + _codeDim) continue;
            int i = k - _back[d], slice = i / _hd, e = i % _hd;
            for (int qh = 0; qh < _group * _kvHeads; qh++)
                if (PrevTask(qh) == (d, slice)) row[qh * _hd + e] = 1;
        }
    }

    /// <summary>
    /// Query (from QHn) or key (from KHn) rows of an induction layer: key/value head h hashes with features
    /// h·m .. h·m + m − 1 on its content pairs; the query carries a constant and the key the sink block on the sink
    /// pair; both carry a constant on the recency pair. Only the first query head of each group is used.
    /// </summary>
    private void InductionQueryOrKey(long r, float[] row, int order, bool query)
    {
        Clear(row);
        int head = (int)(r / _hd), e = (int)(r % _hd), p = e / 2;
        if (query && head % _group != 0) return;
        int kv = query ? head / _group : head;
        if (p == _recencyPair || p == _sinkPair)
        {
            double amplitude = p == _recencyPair ? _recencyAmplitude : _sinkAmplitude;
            int source = p == _sinkPair && !query ? _sink : 0;
            if (e % 2 == 0) row.AsSpan(source, BlockWidth).Fill((float)(amplitude / BlockWidth));
            return;
        }
        int u = Array.IndexOf(_contentPairs, p);
        if (u < 0) return;
        int f = kv * _contentDims + 2 * u + e % 2;
        // Order 1 matches the current token (A) with the previous token of j (B1) directly; higher orders their hashes.
        int from = order == 1 ? (query ? _a : _back[1]) + _sigma[f] : (query ? _qh[order] : _kh[order]) + f;
        row[from] = (float)_matchAmplitude;
    }

    /// <summary>An induction layer's output: the heads that carry a slice of A add it to C, <paramref name="weight"/> in all.</summary>
    private void InductionOutput(long r, float[] row, double weight)
    {
        Clear(row);
        int k = (int)r - _c;
        if (k < 0 || k >= _codeDim) return;
        int slice = k / _hd, e = k % _hd;
        int writers = 0;
        for (int kv = 0; kv < _kvHeads; kv++) if (ValueSlice(1, kv) == slice) writers++;
        for (int kv = 0; kv < _kvHeads; kv++)
            if (ValueSlice(1, kv) == slice) row[kv * _group * _hd + e] = (float)(CScale * weight / writers);
    }

    /// <summary>The two factors (residual indices) of product k of hash order <paramref name="n"/>: QHn's, then KHn's.</summary>
    private (int First, int Second) Factors(int n, int k)
    {
        bool key = k >= _hashDim;
        int f = key ? k - _hashDim : k;
        int d = FactorOffset[n];
        if (n == 2) return key ? (_back[1] + _sigma[f], _back[d + 1] + _tau[f]) : (_a + _sigma[f], _back[d] + _tau[f]);
        return key ? (_kh[n - 1] + f, _back[d + 1] + _upsilon[n][f]) : (_qh[n - 1] + f, _back[d] + _upsilon[n][f]);
    }

    /// <summary>
    /// Gate (first factor) or up (second factor) row of hidden unit r: units 2k and 2k + 1 compute product k as
    /// silu(a)·b and silu(−a)·(−b), whose sum is a·b.
    /// </summary>
    private void ProductFactor(long r, float[] row, bool first, int order)
    {
        Clear(row);
        int k = (int)(r / 2);
        if (k >= 2 * _hashDim) return;
        var (a, b) = Factors(order, k);
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
