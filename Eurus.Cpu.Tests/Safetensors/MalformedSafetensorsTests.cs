using System.Diagnostics;
using Eurus.Cpu.Safetensors;

namespace Eurus.Cpu.Tests.Safetensors;

/// <summary>A corpus of broken safetensors files: each must fail with <see cref="SafetensorsFormatException"/>, quickly.</summary>
public class MalformedSafetensorsTests
{
    private static void AssertRejected(byte[] bytes, string? tensor = null, string? contains = null)
    {
        using var dir = TestPaths.Temp();
        string path = dir.File("bad.safetensors");
        File.WriteAllBytes(path, bytes);
        var sw = Stopwatch.StartNew();
        var e = Assert.Throws<SafetensorsFormatException>(() => SafetensorsFile.Open(path).Dispose());
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(1), $"took {sw.Elapsed}");
        Assert.Equal(path, e.FilePath);
        Assert.StartsWith(path, e.Message);
        if (tensor is not null) Assert.Equal(tensor, e.TensorName);
        if (contains is not null) Assert.Contains(contains, e.Message);
    }

    private static byte[] WithTensor(string entry, int dataBytes = 24) =>
        SafetensorsBuilder.Raw($$"""{"t":{{entry}}}""", new byte[dataBytes]);

    [Fact]
    public void EveryTruncationIsRejected()
    {
        var valid = SafetensorsBuilder.Valid();
        // Every cut inside the length and header, and a sample of cuts inside the data.
        int headerEnd = valid.Length - SafetensorsBuilder.ValidDataLength;
        for (int n = 0; n < valid.Length; n += n < headerEnd ? 1 : 5)
            AssertRejected(valid[..n]);
    }

    [Fact]
    public void HeaderLengthsThatDoNotFitAreRejected()
    {
        AssertRejected(SafetensorsBuilder.Raw("{}", [], declaredLength: ulong.MaxValue), contains: "exceeds");
        AssertRejected(SafetensorsBuilder.Raw("{}", [], declaredLength: 1UL << 40), contains: "exceeds");
        AssertRejected(SafetensorsBuilder.Raw("{}", [], declaredLength: 99_000_000), contains: "past the end");
        AssertRejected(SafetensorsBuilder.Raw("{}", [], declaredLength: 0));
        AssertRejected(SafetensorsBuilder.Raw("{}", [], declaredLength: 1));
    }

    [Theory]
    [InlineData("")]
    [InlineData("not json at all")]
    [InlineData("{\"t\": ")]
    [InlineData("[1, 2, 3]")]
    [InlineData("{\"t\": {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [0, 24]},}")]
    [InlineData("{\"t\": \"F32\"}")]
    [InlineData("{\"__metadata__\": [1]}")]
    [InlineData("{\"__metadata__\": {\"k\": 5}}")]
    [InlineData("{\"t\": {\"dtype\": \"F32\", \"shape\": [[[[[[[[[[[[[[[[2]]]]]]]]]]]]]]]], \"data_offsets\": [0, 24]}}")]
    [InlineData("{\"a\": {\"b\": {\"c\": {\"d\": {\"e\": {}}}}}}")]
    [InlineData("{\"t\": {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [0, 24]}} trailing")]
    [InlineData("{\"t\": {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [0, 24]}, \"t\": {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [0, 24]}}")]
    [InlineData("{\"\": {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [0, 24]}}")]
    [InlineData("{\"t\": {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [0, 24], \"extra\": 1}}")]
    public void BadJsonIsRejected(string header)
    {
        AssertRejected(SafetensorsBuilder.Raw(header, new byte[24]));
    }

    [Fact]
    public void InvalidUtf8InTheHeaderIsRejected()
    {
        var bytes = SafetensorsBuilder.Raw("{\"t\u00e9\": 1}", []);
        bytes[11] = 0xFF;
        AssertRejected(bytes);
    }

    [Theory]
    [InlineData("{\"dtype\":\"F64\",\"shape\":[3],\"data_offsets\":[0,24]}", "not supported")]
    [InlineData("{\"dtype\":\"I64\",\"shape\":[3],\"data_offsets\":[0,24]}", "not supported")]
    [InlineData("{\"dtype\":\"Q4\",\"shape\":[3],\"data_offsets\":[0,24]}", "unknown dtype")]
    [InlineData("{\"dtype\":\"f32\",\"shape\":[6],\"data_offsets\":[0,24]}", "unknown dtype")]
    [InlineData("{\"dtype\":32,\"shape\":[6],\"data_offsets\":[0,24]}", "dtype")]
    [InlineData("{\"shape\":[6],\"data_offsets\":[0,24]}", "dtype")]
    public void WrongDTypesAreRejected(string entry, string contains) => AssertRejected(WithTensor(entry), "t", contains);

    [Theory]
    [InlineData("{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,24]}", "needs 16 bytes")]
    [InlineData("{\"dtype\":\"BF16\",\"shape\":[6],\"data_offsets\":[0,24]}", "needs 12 bytes")]
    [InlineData("{\"dtype\":\"F32\",\"shape\":[-6],\"data_offsets\":[0,24]}", "non-negative")]
    [InlineData("{\"dtype\":\"F32\",\"shape\":[6.5],\"data_offsets\":[0,24]}", "non-negative")]
    [InlineData("{\"dtype\":\"F32\",\"shape\":[\"6\"],\"data_offsets\":[0,24]}", "non-negative")]
    [InlineData("{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,24]}", "overflows")]
    [InlineData("{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,6],\"data_offsets\":[0,24]}", "dimensions")]
    [InlineData("{\"dtype\":\"F32\",\"shape\":6,\"data_offsets\":[0,24]}", "shape")]
    [InlineData("{\"dtype\":\"F32\",\"data_offsets\":[0,24]}", "shape")]
    public void ShapeMismatchesAreRejected(string entry, string contains) => AssertRejected(WithTensor(entry), "t", contains);

    [Theory]
    [InlineData("{\"dtype\":\"F32\",\"shape\":[6],\"data_offsets\":[0,28]}", "past the end")]
    [InlineData("{\"dtype\":\"F32\",\"shape\":[6],\"data_offsets\":[4,28]}", "past the end")]
    [InlineData("{\"dtype\":\"F32\",\"shape\":[6],\"data_offsets\":[9223372036854775800,9223372036854775807]}", "past the end")]
    [InlineData("{\"dtype\":\"F32\",\"shape\":[6],\"data_offsets\":[24,0]}", "end before")]
    [InlineData("{\"dtype\":\"F32\",\"shape\":[6],\"data_offsets\":[-4,20]}", "non-negative")]
    [InlineData("{\"dtype\":\"F32\",\"shape\":[6],\"data_offsets\":[0,18446744073709551616]}", "non-negative")]
    [InlineData("{\"dtype\":\"F32\",\"shape\":[6],\"data_offsets\":[0]}", "data_offsets")]
    [InlineData("{\"dtype\":\"F32\",\"shape\":[6],\"data_offsets\":[0,24,48]}", "data_offsets")]
    [InlineData("{\"dtype\":\"F32\",\"shape\":[6]}", "data_offsets")]
    public void OutOfRangeOffsetsAreRejected(string entry, string contains) => AssertRejected(WithTensor(entry), "t", contains);

    [Fact]
    public void OverlappingTensorsAreRejected()
    {
        AssertRejected(SafetensorsBuilder.Raw(
            """{"x":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"y":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}}""", new byte[24]),
            "y", "overlaps tensor 'x'");
        AssertRejected(SafetensorsBuilder.Raw(
            """{"y":{"dtype":"F32","shape":[2],"data_offsets":[4,12]},"x":{"dtype":"F32","shape":[6],"data_offsets":[0,24]}}""", new byte[24]),
            contains: "overlaps");
    }

    [Fact]
    public void RandomCorruptionsNeverCrash()
    {
        // Flip bytes of the header at random: the result must open or fail with the typed exception.
        var valid = SafetensorsBuilder.Valid();
        var rng = new Random(1234);
        using var dir = TestPaths.Temp();
        string path = dir.File("fuzz.safetensors");
        int headerEnd = valid.Length - SafetensorsBuilder.ValidDataLength;
        for (int i = 0; i < 300; i++)
        {
            var bytes = (byte[])valid.Clone();
            for (int k = rng.Next(1, 4); k > 0; k--) bytes[rng.Next(0, headerEnd)] = (byte)rng.Next(256);
            File.WriteAllBytes(path, bytes);
            try { SafetensorsFile.Open(path).Dispose(); }
            catch (SafetensorsFormatException) { }
        }
    }
}
