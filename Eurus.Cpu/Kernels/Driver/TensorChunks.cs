using Microsoft.Win32.SafeHandles;

namespace Eurus.Cpu.Kernels;

/// <summary>
/// Reads a tensor's rows from the model file in chunks of about 4 MiB for the repacked layouts (<see cref="PackedMatrix"/>,
/// <see cref="QmKPacked"/>, <see cref="Q6KPacked"/>): positional reads rather than the mapping, so the file's pages stay
/// out of the process's resident set and peak memory is about one copy of the weights.
/// </summary>
internal static class TensorChunks
{
    /// <summary>Receives rows <paramref name="firstRow"/>…firstRow + rows − 1 in the file's layout.</summary>
    public delegate void Fill(int firstRow, int rows, ReadOnlySpan<byte> bytes);

    /// <summary>
    /// Fills the freshly made <paramref name="target"/> with <paramref name="rows"/> rows of <paramref name="rowBytes"/>
    /// bytes read at <paramref name="offset"/> (see <see cref="Read"/>) and returns it; disposes it if the read fails.
    /// </summary>
    public static T ReadInto<T>(T target, Fill fill, SafeFileHandle handle, long offset, int rowBytes, int rows) where T : IDisposable
    {
        try
        {
            Read(handle, offset, rowBytes, rows, fill);
            return target;
        }
        catch
        {
            target.Dispose();
            throw;
        }
    }

    /// <summary>Reads <paramref name="rows"/> rows of <paramref name="rowBytes"/> bytes at <paramref name="offset"/> and hands them to <paramref name="fill"/>.</summary>
    public static void Read(SafeFileHandle handle, long offset, int rowBytes, int rows, Fill fill)
    {
        int chunkRows = Math.Max(1, (1 << 22) / rowBytes);
        var buffer = new byte[(long)Math.Min(chunkRows, rows) * rowBytes];
        for (int r = 0; r < rows; r += chunkRows)
        {
            int n = Math.Min(chunkRows, rows - r);
            var span = buffer.AsSpan(0, n * rowBytes);
            long at = offset + (long)r * rowBytes;
            int read = 0;
            while (read < span.Length)
            {
                int got = RandomAccess.Read(handle, span[read..], at + read);
                if (got <= 0) throw new EndOfStreamException($"the file ended while reading weights at {at + read}.");
                read += got;
            }
            fill(r, n, span);
        }
    }
}
