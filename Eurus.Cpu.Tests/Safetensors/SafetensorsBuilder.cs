using System.Buffers.Binary;
using System.Text;

namespace Eurus.Cpu.Tests.Safetensors;

/// <summary>Builds safetensors files byte by byte for tests, including deliberately broken ones.</summary>
internal static class SafetensorsBuilder
{
    /// <summary>8-byte length, the header text as given, then the data.</summary>
    public static byte[] Raw(string header, byte[] data, ulong? declaredLength = null)
    {
        var h = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + h.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, declaredLength ?? (ulong)h.Length);
        h.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + h.Length);
        return bytes;
    }

    /// <summary>A valid file: F32 tensor "a" [2, 3] = 0..5, BF16 tensor "b" [4] = 1, -2, 0.5, 3, F16 tensor "c" [2] = 1.5, -4.</summary>
    public static byte[] Valid()
    {
        var data = new List<byte>();
        for (int i = 0; i < 6; i++) data.AddRange(BitConverter.GetBytes((float)i));
        foreach (float f in new[] { 1f, -2f, 0.5f, 3f }) data.AddRange(BitConverter.GetBytes((ushort)(BitConverter.SingleToUInt32Bits(f) >> 16)));
        foreach (float f in new[] { 1.5f, -4f }) data.AddRange(BitConverter.GetBytes(BitConverter.HalfToUInt16Bits((Half)f)));
        return Raw(ValidHeader, data.ToArray());
    }

    public const string ValidHeader =
        """{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"b":{"dtype":"BF16","shape":[4],"data_offsets":[24,32]},"c":{"dtype":"F16","shape":[2],"data_offsets":[32,36]}}  """;

    public const int ValidDataLength = 36;
}
