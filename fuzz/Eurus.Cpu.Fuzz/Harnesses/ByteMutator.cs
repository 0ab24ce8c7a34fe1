using System.Buffers.Binary;

namespace Eurus.Cpu.Fuzzing;

/// <summary>
/// A small seeded mutator for the in-process CI runs (the real campaigns use AFL++): bit flips, random and "interesting"
/// bytes and integers (0, ±1, powers of two, the int32/int64 extremes), block deletion, duplication and insertion,
/// truncation and splicing with another seed. Offsets favour the first <see cref="HeadBytes"/> bytes, where the headers
/// that parsers validate live (tensor data is mostly opaque numbers).
/// </summary>
public sealed class ByteMutator(int seed)
{
    private const int HeadBytes = 1024;
    private readonly Random _rng = new(seed);

    private static readonly long[] Interesting =
    [
        0, 1, -1, 2, 7, 8, 15, 16, 31, 32, 63, 64, 127, 128, 255, 256, 1023, 1024, 4095, 4096, 65535, 65536,
        int.MaxValue, int.MinValue, (long)int.MaxValue + 1, uint.MaxValue, (long)uint.MaxValue + 1, long.MaxValue, long.MinValue,
        1L << 31, 1L << 40, 1L << 62, -2, -128, -32768,
    ];

    /// <summary>One to four mutations of <paramref name="input"/> (a copy); <paramref name="others"/> feed the splices.</summary>
    public byte[] Mutate(byte[] input, IReadOnlyList<byte[]> others)
    {
        var data = new List<byte>(input);
        int rounds = 1 + _rng.Next(4);
        for (int i = 0; i < rounds; i++) MutateOnce(data, others);
        return [.. data];
    }

    private int Offset(int length) =>
        length == 0 ? 0 : _rng.Next(2) == 0 ? _rng.Next(Math.Min(length, HeadBytes)) : _rng.Next(length);

    private void MutateOnce(List<byte> d, IReadOnlyList<byte[]> others)
    {
        switch (_rng.Next(10))
        {
            case 0 when d.Count > 0:
            {
                int at = Offset(d.Count);
                d[at] ^= (byte)(1 << _rng.Next(8));
                break;
            }
            case 1 when d.Count > 0:
                d[Offset(d.Count)] = (byte)_rng.Next(256);
                break;
            case 2 or 3 when d.Count > 0:
            {
                // An interesting integer of 1, 2, 4 or 8 bytes, little-endian.
                int size = 1 << _rng.Next(4);
                int at = Offset(d.Count);
                long v = Interesting[_rng.Next(Interesting.Length)];
                if (_rng.Next(4) == 0) v += _rng.Next(-3, 4);
                Span<byte> b = stackalloc byte[8];
                BinaryPrimitives.WriteInt64LittleEndian(b, v);
                for (int i = 0; i < size && at + i < d.Count; i++) d[at + i] = b[i];
                break;
            }
            case 4 when d.Count > 1:
            {
                int at = Offset(d.Count);
                d.RemoveRange(at, Math.Min(d.Count - at, 1 + _rng.Next(Math.Min(64, d.Count))));
                break;
            }
            case 5 when d.Count > 0:
            {
                int at = Offset(d.Count), len = Math.Min(d.Count - at, 1 + _rng.Next(64));
                d.InsertRange(Offset(d.Count), d.GetRange(at, len));
                break;
            }
            case 6:
            {
                var bytes = new byte[1 + _rng.Next(16)];
                _rng.NextBytes(bytes);
                d.InsertRange(Offset(d.Count), bytes);
                break;
            }
            case 7 when d.Count > 1:
            {
                // Truncate.
                int keep = 1 + _rng.Next(d.Count - 1);
                d.RemoveRange(keep, d.Count - keep);
                break;
            }
            case 8 when others.Count > 0:
            {
                // Splice: our head, another seed's tail.
                var other = others[_rng.Next(others.Count)];
                if (other.Length == 0) break;
                int cut = Offset(d.Count), from = _rng.Next(other.Length);
                d.RemoveRange(cut, d.Count - cut);
                d.AddRange(other.AsSpan(from).ToArray());
                break;
            }
            default:
                if (d.Count > 0)
                {
                    // Swap two bytes.
                    int a = Offset(d.Count), b = Offset(d.Count);
                    (d[a], d[b]) = (d[b], d[a]);
                }
                break;
        }
    }
}
