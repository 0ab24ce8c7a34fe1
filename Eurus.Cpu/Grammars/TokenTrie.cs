using System.Runtime.CompilerServices;
using Eurus.Cpu.Tokenization;

namespace Eurus.Cpu.Grammars;

/// <summary>
/// A vocabulary as a trie over the UTF-8 bytes of its tokens' text (<see cref="Tokenizer.GetPieceBytes"/>, the bytes
/// the generated text is made of), so that the tokens allowed by a grammar state are found by one walk that skips every
/// subtree whose prefix the grammar rejects. Nodes are numbered breadth-first, so the children of a node are a
/// contiguous range. Tokens with no text (control tokens) are not in the trie; they are never allowed, except the end
/// of sequence, which the automaton allows where the grammar can end. Built once per tokenizer.
/// </summary>
internal sealed class TokenTrie
{
    private static readonly ConditionalWeakTable<Tokenizer, TokenTrie> s_tries = new();

    private readonly Tokenizer _tokenizer;

    /// <summary>Children of node n: nodes ChildStart[n] .. ChildStart[n + 1] - 1 (node 0 is the root).</summary>
    public readonly int[] ChildStart;
    /// <summary>The byte on the edge into each node.</summary>
    public readonly byte[] Label;
    /// <summary>Tokens whose text ends at node n: Tokens[TokenStart[n] .. TokenStart[n + 1] - 1].</summary>
    public readonly int[] TokenStart;
    public readonly int[] Tokens;
    public readonly int VocabSize, Eos, MaxDepth;

    public static TokenTrie For(Tokenizer tokenizer) => s_tries.GetValue(tokenizer, t => new TokenTrie(t));

    private TokenTrie(Tokenizer tokenizer)
    {
        _tokenizer = tokenizer;
        VocabSize = tokenizer.VocabSize;
        Eos = tokenizer.EosId;
        // Sorted by bytes, a breadth-first numbering is built level by level from ranges of the sorted list.
        var ids = Enumerable.Range(0, VocabSize).Where(i => tokenizer.GetPieceBytes(i).Length > 0).ToArray();
        var keys = ids.Select(i => tokenizer.GetPieceBytes(i).ToArray()).ToArray();
        Array.Sort(keys, ids, ByteArrayComparer.Instance);
        MaxDepth = keys.Length == 0 ? 0 : keys.Max(k => k.Length);

        var childStart = new List<int>();
        var label = new List<byte> { 0 };
        var tokenStart = new List<int>();
        var tokens = new List<int>();
        // Each node covers a range [lo, hi) of the sorted keys sharing a prefix of its depth.
        int nextId = 1;
        var queue = new Queue<(int Lo, int Hi, int Depth)>();
        queue.Enqueue((0, keys.Length, 0));
        while (queue.Count > 0)
        {
            var (lo, hi, depth) = queue.Dequeue();
            // Tokens ending exactly here come first in the sorted range.
            tokenStart.Add(tokens.Count);
            int i = lo;
            while (i < hi && keys[i].Length == depth) tokens.Add(ids[i++]);
            childStart.Add(nextId);
            while (i < hi)
            {
                byte b = keys[i][depth];
                int j = i;
                while (j < hi && keys[j][depth] == b) j++;
                label.Add(b);
                queue.Enqueue((i, j, depth + 1));
                nextId++;
                i = j;
            }
        }
        childStart.Add(nextId);
        tokenStart.Add(tokens.Count);
        ChildStart = [.. childStart];
        Label = [.. label];
        TokenStart = [.. tokenStart];
        Tokens = [.. tokens];
    }

    /// <summary>Nodes in the trie (root included).</summary>
    public int NodeCount => Label.Length;

    /// <summary>The text bytes of token <paramref name="id"/>.</summary>
    public ReadOnlySpan<byte> Bytes(int id) => _tokenizer.GetPieceBytes(id);

    private sealed class ByteArrayComparer : IComparer<byte[]>
    {
        public static readonly ByteArrayComparer Instance = new();
        public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);
    }
}
