using Eurus.Cpu.Safetensors;

namespace Eurus.Cpu.Fuzzing;

/// <summary>
/// bytes → a .safetensors file → <see cref="SafetensorsFile.Open"/> → every tensor looked up by name and every row read,
/// both through the map (<see cref="SafetensorsFile.ReadRow"/>, converted to F32) and from disk
/// (<see cref="SafetensorsFile.ReadRowsFromDisk"/>). The typed error is <see cref="SafetensorsFormatException"/>.
/// </summary>
public sealed class SafetensorsHarness : IFuzzHarness
{
    private readonly FuzzTempDir _dir = new("safetensors");
    private readonly string _path;

    public SafetensorsHarness() => _path = _dir.File("input.safetensors");

    public string Name => "safetensors";

    public Exception? Run(byte[] input)
    {
        File.WriteAllBytes(_path, input);
        try
        {
            using var file = SafetensorsFile.Open(_path);
            foreach (var (key, value) in file.Metadata) _ = key.Length + value.Length;
            foreach (var t in file.Tensors)
            {
                if (!ReferenceEquals(file.GetTensor(t.Name), t)) throw new FuzzFinding($"GetTensor('{t.Name}') returned another tensor.");
                long rowBytes = t.RowLength * SafetensorsDTypeInfo.Size(t.DType);
                if (t.RowCount * rowBytes != t.ByteSize)
                    throw new FuzzFinding($"'{t.Name}': {t.RowCount} rows of {rowBytes} bytes but a byte size of {t.ByteSize}.");
                if (t.RowCount == 0) continue;
                // Rows are at least 2 bytes and inside the file, so this loop is bounded by the input's size.
                var row = new float[t.RowLength];
                for (long r = 0; r < t.RowCount; r++) file.ReadRow(t, r, row);
                var raw = new byte[t.ByteSize];
                file.ReadRowsFromDisk(t, 0, checked((int)t.RowCount), raw);
                if (!raw.AsSpan(0, (int)rowBytes).SequenceEqual(file.GetRowData(t, 0)))
                    throw new FuzzFinding($"'{t.Name}': the first row read from disk differs from the mapped one.");
            }
            return null;
        }
        catch (SafetensorsFormatException e)
        {
            return e;
        }
        finally
        {
            File.Delete(_path);
        }
    }

    public void Dispose() => _dir.Dispose();
}
