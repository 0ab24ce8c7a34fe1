using System.Buffers;
using System.Text;

namespace Eurus.Cpu.Tokenization;

/// <summary>
/// The SentencePiece BPE merge step, as llama.cpp's <c>llm_tokenizer_spm_session</c> performs it: the text is split
/// into Unicode characters, then the adjacent pair whose concatenation is a vocabulary token with the highest score
/// (ties: the leftmost pair) is merged, again and again, through a priority queue (O(n log n)). Symbols left that are
/// not tokens become byte-fallback tokens, one per UTF-8 byte.
/// </summary>
/// <remarks>
/// llama.cpp works on UTF-8 bytes; this works on UTF-16 code units of text that holds no lone surrogates. Both
/// representations split into the same characters, compare the same strings and keep the same symbol indices, so
/// the merge order and the ids are identical. The input must already have its spaces escaped to <c>▁</c>.
/// Instances are immutable and safe to use from several threads.
/// </remarks>
internal sealed class SpmBpeEncoder
{
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _ids;
    private readonly float[] _scores;
    private readonly int[] _byteTokens;

    /// <param name="ids">Token text to id (every token type takes part, as in llama.cpp).</param>
    /// <param name="scores">Merge score of each id.</param>
    /// <param name="byteTokens">Token for each of the 256 byte values.</param>
    public SpmBpeEncoder(Dictionary<string, int> ids, float[] scores, int[] byteTokens)
    {
        _ids = ids.GetAlternateLookup<ReadOnlySpan<char>>();
        _scores = scores;
        _byteTokens = byteTokens;
    }

    /// <summary>Appends the ids of <paramref name="text"/> (escaped, valid UTF-16) to <paramref name="output"/>.</summary>
    public void Encode(ReadOnlySpan<char> text, List<int> output)
    {
        if (text.IsEmpty) return;
        int capacity = text.Length;
        var pool = ArrayPool<int>.Shared;
        int[] start = pool.Rent(capacity), length = pool.Rent(capacity), prev = pool.Rent(capacity), next = pool.Rent(capacity);
        try
        {
            // One symbol per character (a surrogate pair is one character).
            int count = 0;
            for (int offset = 0; offset < text.Length; count++)
            {
                int n = char.IsHighSurrogate(text[offset]) && offset + 1 < text.Length && char.IsLowSurrogate(text[offset + 1]) ? 2 : 1;
                start[count] = offset;
                length[count] = n;
                prev[count] = count - 1;
                offset += n;
                next[count] = offset == text.Length ? -1 : count + 1;
            }

            var queue = new PriorityQueue<Bigram, (float Score, int Left)>(count, BigramOrder.Instance);
            for (int i = 1; i < count; i++) TryAddBigram(text, queue, start, length, i - 1, i);

            while (queue.TryDequeue(out var bigram, out _))
            {
                int left = bigram.Left, right = bigram.Right;
                // Skip pairs of which one side has changed since the pair was queued.
                if (length[left] == 0 || length[right] == 0 || length[left] + length[right] != bigram.Size) continue;

                length[left] += length[right];
                length[right] = 0;
                next[left] = next[right];
                if (next[right] >= 0) prev[next[right]] = left;

                TryAddBigram(text, queue, start, length, prev[left], left);
                TryAddBigram(text, queue, start, length, left, next[left]);
            }

            Span<byte> utf8 = stackalloc byte[16];
            for (int i = 0; i != -1; i = next[i])
            {
                var piece = text.Slice(start[i], length[i]);
                if (_ids.TryGetValue(piece, out int id))
                {
                    output.Add(id);
                    continue;
                }
                // Only single characters can be left unmatched (every merge forms a token): emit their bytes.
                byte[]? rented = null;
                int max = Encoding.UTF8.GetMaxByteCount(piece.Length);
                Span<byte> bytes = max <= utf8.Length ? utf8 : (rented = ArrayPool<byte>.Shared.Rent(max));
                int written = Encoding.UTF8.GetBytes(piece, bytes);
                foreach (byte b in bytes[..written]) output.Add(_byteTokens[b]);
                if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
            }
        }
        finally
        {
            pool.Return(start);
            pool.Return(length);
            pool.Return(prev);
            pool.Return(next);
        }
    }

    private void TryAddBigram(ReadOnlySpan<char> text, PriorityQueue<Bigram, (float Score, int Left)> queue, int[] start, int[] length, int left, int right)
    {
        if (left < 0 || right < 0) return;
        int size = length[left] + length[right];
        if (!_ids.TryGetValue(text.Slice(start[left], size), out int id)) return;
        queue.Enqueue(new Bigram(left, right, size), (_scores[id], left));
    }

    private readonly record struct Bigram(int Left, int Right, int Size);

    /// <summary>Highest score first; equal scores: leftmost first (llama.cpp's <c>llm_bigram_spm::comparator</c>).</summary>
    private sealed class BigramOrder : IComparer<(float Score, int Left)>
    {
        public static readonly BigramOrder Instance = new();

        public int Compare((float Score, int Left) a, (float Score, int Left) b)
        {
            if (a.Score > b.Score) return -1;
            if (a.Score < b.Score) return 1;
            return a.Left.CompareTo(b.Left);
        }
    }
}
