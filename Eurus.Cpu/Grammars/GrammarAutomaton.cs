namespace Eurus.Cpu.Grammars;

/// <summary>
/// The grammar as a lazily built deterministic automaton over UTF-8 bytes. A state is a set of matcher stacks (as
/// llama.cpp's grammar sampler keeps: each stack a path of grammar positions, its top a character class or empty for
/// "complete") plus a partly read UTF-8 character. Stacks are interned as linked nodes (position, parent), stack sets
/// and states are interned too, and every (state, byte) transition is computed once and then read from a table, so a
/// state seen before costs one array read per byte. Token masks are cached per state and vocabulary
/// (<see cref="MaskFor"/>). One instance per <see cref="Grammar"/>, shared by its generations under a lock.
/// </summary>
internal sealed class GrammarAutomaton
{
    public const int Dead = -1;
    private const int Unknown = -2;
    /// <summary>Most states before the automaton refuses to grow (about 256 MiB of transitions).</summary>
    public const int MaxStates = 250_000;
    /// <summary>Masks cached per vocabulary before the cache is cleared.</summary>
    public const int MaxCachedMasks = 2048;

    private readonly Grammar _g;
    private readonly Lock _lock = new();

    // Stack nodes: node 0 is the empty stack (the bottom); a node is (position, parent node).
    private int[] _nodePos = new int[256], _nodeParent = new int[256];
    private int _nodeCount = 1;
    private readonly Dictionary<long, int> _nodeIds = [];

    // Stack sets (sorted node ids) and states (stack set, partial UTF-8 character).
    private readonly List<int[]> _sets = [];
    private readonly Dictionary<int[], int> _setIds = new(IntArrayComparer.Instance);
    private int[] _stateSet = new int[64], _statePartial = new int[64];
    private int _stateCount;
    private readonly Dictionary<long, int> _stateIds = [];
    private int[] _next = new int[64 * 256]; // state * 256 + byte → state, Dead or Unknown

    // Scratch for expansion (on cache misses only).
    private readonly List<int> _found = [];
    private readonly HashSet<long> _visited = [];
    private readonly Stack<long> _work = new();

    private readonly Dictionary<TokenTrie, Dictionary<int, TokenMask>> _masks = [];

    public GrammarAutomaton(Grammar g)
    {
        _g = g;
        lock (_lock)
        {
            _found.Clear();
            _visited.Clear();
            foreach (int start in g.RuleStarts[g.Root]) Expand(start, 0);
            Start = _found.Count == 0 ? Dead : State(InternSet(), 0);
        }
    }

    /// <summary>The state before any text.</summary>
    public int Start { get; }

    /// <summary>States created so far (for tests and diagnostics).</summary>
    public int StateCount { get { lock (_lock) return _stateCount; } }

    /// <summary>Whether the text read so far is a whole sentence (some stack is empty and no character is half read).</summary>
    public bool IsAccepting(int state)
    {
        if (state < 0) return false;
        lock (_lock) return AcceptingCore(state);
    }

    private bool AcceptingCore(int state) => _statePartial[state] == 0 && _sets[_stateSet[state]][0] == 0; // sorted: 0 first

    /// <summary>The state after byte <paramref name="b"/>, or <see cref="Dead"/>.</summary>
    public int Step(int state, byte b)
    {
        if (state < 0) return Dead;
        lock (_lock) return StepCore(state, b);
    }

    /// <summary>The state after the bytes of <paramref name="token"/> of <paramref name="trie"/>'s vocabulary, or <see cref="Dead"/>.</summary>
    public int AfterToken(TokenTrie trie, int state, int token)
    {
        var bytes = trie.Bytes(token);
        if (bytes.IsEmpty || state < 0) return Dead;
        lock (_lock)
        {
            foreach (byte b in bytes)
            {
                state = StepCore(state, b);
                if (state < 0) return Dead;
            }
            return state;
        }
    }

    /// <summary>
    /// The tokens of <paramref name="trie"/>'s vocabulary allowed in <paramref name="state"/> (end of sequence included
    /// when the state is accepting), computed by walking the vocabulary trie against the automaton (a subtree whose
    /// prefix is dead is skipped), and cached per state.
    /// </summary>
    public TokenMask MaskFor(TokenTrie trie, int state)
    {
        lock (_lock)
        {
            if (!_masks.TryGetValue(trie, out var cache)) _masks[trie] = cache = [];
            if (cache.TryGetValue(state, out var mask)) return mask;
            if (cache.Count >= MaxCachedMasks) cache.Clear();
            mask = Walk(trie, state);
            cache[state] = mask;
            return mask;
        }
    }

    /// <summary>The mask of <paramref name="state"/> computed afresh, bypassing the mask cache (for benchmarks and tests).</summary>
    internal TokenMask MaskUncached(TokenTrie trie, int state)
    {
        lock (_lock) return Walk(trie, state);
    }

    private TokenMask Walk(TokenTrie trie, int state)
    {
        var bits = new ulong[(trie.VocabSize + 63) >> 6];
        int count = 0;
        if (AcceptingCore(state)) { bits[trie.Eos >> 6] |= 1UL << trie.Eos; count++; }
        int depthMax = trie.MaxDepth + 1;
        Span<int> nodes = depthMax <= 256 ? stackalloc int[depthMax] : new int[depthMax];
        Span<int> states = depthMax <= 256 ? stackalloc int[depthMax] : new int[depthMax];
        Span<int> iter = depthMax <= 256 ? stackalloc int[depthMax] : new int[depthMax];
        var childStart = trie.ChildStart;
        var label = trie.Label;
        var tokStart = trie.TokenStart;
        var tokens = trie.Tokens;
        int depth = 0;
        nodes[0] = 0; states[0] = state; iter[0] = childStart[0];
        while (depth >= 0)
        {
            int node = nodes[depth], i = iter[depth];
            if (i == childStart[node + 1]) { depth--; continue; }
            iter[depth] = i + 1;
            int s = StepCore(states[depth], label[i]);
            if (s < 0) continue;
            for (int t = tokStart[i]; t < tokStart[i + 1]; t++)
            {
                int id = tokens[t];
                ulong bit = 1UL << id;
                if ((bits[id >> 6] & bit) == 0) { bits[id >> 6] |= bit; count++; }
            }
            if (childStart[i] < childStart[i + 1])
            {
                depth++;
                nodes[depth] = i; states[depth] = s; iter[depth] = childStart[i];
            }
        }
        return new TokenMask(bits, count);
    }

    private int StepCore(int state, byte b)
    {
        int slot = state * 256 + b;
        int next = _next[slot];
        if (next != Unknown) return next;
        next = Transition(state, b);
        _next[state * 256 + b] = next; // the table may have grown
        return next;
    }

    private int Transition(int state, byte b)
    {
        int set = _stateSet[state], partial = _statePartial[state];
        if (partial == 0)
        {
            if (b < 0x80) return Advance(set, b);
            int need, value;
            if (b is >= 0xC2 and <= 0xDF) (need, value) = (1, b & 0x1F);
            else if (b is >= 0xE0 and <= 0xEF) (need, value) = (2, b & 0x0F);
            else if (b is >= 0xF0 and <= 0xF4) (need, value) = (3, b & 0x07);
            else return Dead; // a continuation byte, or a byte UTF-8 never uses
            return Partial(set, value, need, need + 1);
        }
        if ((b & 0xC0) != 0x80) return Dead;
        int len = partial & 0xF, left = (partial >> 4) & 0xF, v = (partial >> 8 << 6) | (b & 0x3F);
        left--;
        if (left > 0) return Partial(set, v, left, len);
        bool valid = len switch
        {
            2 => v >= 0x80,
            3 => v >= 0x800 && v is < 0xD800 or > 0xDFFF,
            _ => v is >= 0x10000 and <= 0x10FFFF,
        };
        return valid ? Advance(set, v) : Dead;
    }

    /// <summary>A state with <paramref name="need"/> continuation bytes still to read, if some stack could accept the character.</summary>
    private int Partial(int set, int value, int need, int len)
    {
        int lo = value << (6 * need), hi = lo | ((1 << (6 * need)) - 1);
        lo = Math.Max(lo, len switch { 2 => 0x80, 3 => 0x800, _ => 0x10000 });
        hi = Math.Min(hi, 0x10FFFF);
        if (lo > hi || (lo >= 0xD800 && hi <= 0xDFFF)) return Dead; // above U+10FFFF, or a UTF-16 surrogate
        bool any = false;
        foreach (int node in _sets[set])
            if (node != 0 && _g.Classes[_g.Arg[_nodePos[node]]].Intersects(lo, hi)) { any = true; break; }
        return any ? State(set, (value << 8) | (need << 4) | len) : Dead;
    }

    /// <summary>The state after code point <paramref name="cp"/> from stack set <paramref name="set"/>.</summary>
    private int Advance(int set, int cp)
    {
        _found.Clear();
        _visited.Clear();
        foreach (int node in _sets[set])
        {
            if (node == 0) continue;
            int pos = _nodePos[node];
            if (_g.Classes[_g.Arg[pos]].Matches(cp)) Expand(pos + 1, _nodeParent[node]);
        }
        return _found.Count == 0 ? Dead : State(InternSet(), 0);
    }

    /// <summary>
    /// Adds to _found every stack whose top is a character class (or the empty stack) reachable from (pos, parent)
    /// without reading a character. Iterative: a long chain of rules cannot overflow the thread's stack.
    /// </summary>
    private void Expand(int pos, int parent)
    {
        _work.Push(((long)pos << 32) | (uint)parent);
        while (_work.Count > 0)
        {
            long key = _work.Pop();
            if (!_visited.Add(key)) continue;
            pos = (int)(key >> 32);
            parent = (int)(uint)key;
            switch (_g.Kind[pos])
            {
                case Grammar.End:
                    if (parent == 0) _found.Add(0);
                    else _work.Push(((long)_nodePos[parent] << 32) | (uint)_nodeParent[parent]);
                    break;
                case Grammar.Chars:
                    _found.Add(Node(pos, parent));
                    break;
                default: // a rule reference: push the continuation (unless it is the end: a tail call), enter each alternative
                    int cont = _g.Kind[pos + 1] == Grammar.End ? parent : Node(pos + 1, parent);
                    foreach (int start in _g.RuleStarts[_g.Arg[pos]]) _work.Push(((long)start << 32) | (uint)cont);
                    break;
            }
        }
    }

    private int Node(int pos, int parent)
    {
        long key = ((long)pos << 32) | (uint)parent;
        if (_nodeIds.TryGetValue(key, out int id)) return id;
        if (_nodeCount == _nodePos.Length)
        {
            if (_nodeCount >= MaxStates * 4) throw TooComplex();
            Array.Resize(ref _nodePos, _nodeCount * 2);
            Array.Resize(ref _nodeParent, _nodeCount * 2);
        }
        id = _nodeCount++;
        _nodePos[id] = pos;
        _nodeParent[id] = parent;
        _nodeIds[key] = id;
        return id;
    }

    private int InternSet()
    {
        _found.Sort();
        int n = 0;
        for (int i = 0; i < _found.Count; i++)
            if (i == 0 || _found[i] != _found[i - 1]) _found[n++] = _found[i];
        var set = _found.GetRange(0, n).ToArray();
        if (_setIds.TryGetValue(set, out int id)) return id;
        id = _sets.Count;
        _sets.Add(set);
        _setIds[set] = id;
        return id;
    }

    private int State(int set, int partial)
    {
        long key = ((long)set << 32) | (uint)partial;
        if (_stateIds.TryGetValue(key, out int id)) return id;
        if (_stateCount == _stateSet.Length)
        {
            if (_stateCount >= MaxStates) throw TooComplex();
            Array.Resize(ref _stateSet, _stateCount * 2);
            Array.Resize(ref _statePartial, _stateCount * 2);
            int old = _next.Length;
            Array.Resize(ref _next, old * 2);
            _next.AsSpan(old).Fill(Unknown);
        }
        id = _stateCount++;
        _stateSet[id] = set;
        _statePartial[id] = partial;
        if (id == 0) _next.AsSpan().Fill(Unknown);
        _stateIds[key] = id;
        return id;
    }

    private static GrammarException TooComplex() =>
        new($"the grammar's matcher grew past {MaxStates} states (a very deeply nested or highly ambiguous grammar)");

    private sealed class IntArrayComparer : IEqualityComparer<int[]>
    {
        public static readonly IntArrayComparer Instance = new();
        public bool Equals(int[]? x, int[]? y) => x.AsSpan().SequenceEqual(y);
        public int GetHashCode(int[] a)
        {
            var h = new HashCode();
            h.AddBytes(System.Runtime.InteropServices.MemoryMarshal.AsBytes(a.AsSpan()));
            return h.ToHashCode();
        }
    }
}

/// <summary>The tokens allowed in one automaton state: a bit per token id, and how many are set.</summary>
internal sealed class TokenMask(ulong[] bits, int count)
{
    public readonly ulong[] Bits = bits;
    public readonly int Count = count;
    public bool Allows(int id) => (Bits[id >> 6] & (1UL << id)) != 0;
}
