using System.Runtime.InteropServices;
using Eurus.Cpu.Gguf;

namespace Eurus.Cpu.Quantization;

/// <summary>Encodes F32 rows into a tensor type's bytes and decodes them back (reference scalar code).</summary>
public static class RowCodec
{
    /// <summary>Encodes <paramref name="row"/> as <paramref name="type"/> into <paramref name="destination"/> (exactly the row's byte size).</summary>
    public static void Encode(GgmlType type, ReadOnlySpan<float> row, Span<byte> destination)
    {
        long need = GgmlTypeInfo.RowBytes(type, row.Length);
        if (destination.Length != need) throw new ArgumentException($"Destination is {destination.Length} bytes; a {type} row of {row.Length} needs {need}.");
        switch (type)
        {
            case GgmlType.F32: MemoryMarshal.AsBytes(row).CopyTo(destination); break;
            case GgmlType.F16: FloatConversion.SingleToHalf(row, MemoryMarshal.Cast<byte, Half>(destination)); break;
            case GgmlType.BF16: FloatConversion.SingleToBFloat16(row, MemoryMarshal.Cast<byte, ushort>(destination)); break;
            case GgmlType.Q8_0: QuantReference.QuantizeQ8_0(row, MemoryMarshal.Cast<byte, BlockQ8_0>(destination)); break;
            case GgmlType.Q4_0: QuantReference.QuantizeQ4_0(row, MemoryMarshal.Cast<byte, BlockQ4_0>(destination)); break;
            case GgmlType.Q5_0: Q5_0Reference.Quantize(row, MemoryMarshal.Cast<byte, BlockQ5_0>(destination)); break;
            case GgmlType.Q4_K: KQuantReference.QuantizeQ4_K(row, MemoryMarshal.Cast<byte, BlockQ4_K>(destination)); break;
            case GgmlType.Q5_K: KQuantReference.QuantizeQ5_K(row, MemoryMarshal.Cast<byte, BlockQ5_K>(destination)); break;
            case GgmlType.Q6_K: KQuantReference.QuantizeQ6_K(row, MemoryMarshal.Cast<byte, BlockQ6_K>(destination)); break;
            default: throw new NotSupportedException($"Encoding to {type} is not supported.");
        }
    }

    /// <summary>Decodes a row of <paramref name="type"/> bytes into floats.</summary>
    public static void Decode(GgmlType type, ReadOnlySpan<byte> source, Span<float> destination)
    {
        long need = GgmlTypeInfo.RowBytes(type, destination.Length);
        if (source.Length != need) throw new ArgumentException($"Source is {source.Length} bytes; a {type} row of {destination.Length} needs {need}.");
        switch (type)
        {
            case GgmlType.F32: MemoryMarshal.Cast<byte, float>(source).CopyTo(destination); break;
            case GgmlType.F16: FloatConversion.HalfToSingle(MemoryMarshal.Cast<byte, Half>(source), destination); break;
            case GgmlType.BF16: FloatConversion.BFloat16ToSingle(MemoryMarshal.Cast<byte, ushort>(source), destination); break;
            case GgmlType.Q8_0: QuantReference.DequantizeQ8_0(MemoryMarshal.Cast<byte, BlockQ8_0>(source), destination); break;
            case GgmlType.Q4_0: QuantReference.DequantizeQ4_0(MemoryMarshal.Cast<byte, BlockQ4_0>(source), destination); break;
            case GgmlType.Q5_0: Q5_0Reference.Dequantize(MemoryMarshal.Cast<byte, BlockQ5_0>(source), destination); break;
            case GgmlType.Q4_1: OffsetQuantReference.DequantizeQ4_1(MemoryMarshal.Cast<byte, BlockQ4_1>(source), destination); break;
            case GgmlType.Q5_1: OffsetQuantReference.DequantizeQ5_1(MemoryMarshal.Cast<byte, BlockQ5_1>(source), destination); break;
            case GgmlType.Q4_K: KQuantReference.DequantizeQ4_K(MemoryMarshal.Cast<byte, BlockQ4_K>(source), destination); break;
            case GgmlType.Q5_K: KQuantReference.DequantizeQ5_K(MemoryMarshal.Cast<byte, BlockQ5_K>(source), destination); break;
            case GgmlType.Q6_K: KQuantReference.DequantizeQ6_K(MemoryMarshal.Cast<byte, BlockQ6_K>(source), destination); break;
            default: throw new NotSupportedException($"Decoding {type} is not supported.");
        }
    }
}
