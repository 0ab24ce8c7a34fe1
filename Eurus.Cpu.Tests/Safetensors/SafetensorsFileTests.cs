using Eurus.Cpu.Safetensors;

namespace Eurus.Cpu.Tests.Safetensors;

public class SafetensorsFileTests
{
    [Fact]
    public void ReadsTensorsOfEveryDTypeFromAValidFile()
    {
        using var dir = TestPaths.Temp();
        string path = dir.File("ok.safetensors");
        File.WriteAllBytes(path, SafetensorsBuilder.Valid());
        using var f = SafetensorsFile.Open(path);
        Assert.Equal(["a", "b", "c"], f.Tensors.Select(t => t.Name));
        Assert.Equal("pt", f.Metadata["format"]);
        var a = f.GetTensor("a");
        Assert.Equal(SafetensorsDType.F32, a.DType);
        Assert.Equal([2L, 3L], a.Shape);
        Assert.Equal(2, a.RowCount);
        var row = new float[3];
        f.ReadRow(a, 1, row);
        Assert.Equal([3f, 4f, 5f], row);
        var b = new float[4];
        f.ReadRow(f.GetTensor("b"), 0, b);
        Assert.Equal([1f, -2f, 0.5f, 3f], b);
        var c = new float[2];
        f.ReadRow(f.GetTensor("c"), 0, c);
        Assert.Equal([1.5f, -4f], c);
        var e = Assert.Throws<SafetensorsFormatException>(() => f.GetTensor("zz"));
        Assert.Equal("zz", e.TensorName);
    }

    [Fact]
    public void ReadsTheDemoCheckpoint()
    {
        using var ckpt = SafetensorsCheckpoint.Open(TestPaths.Model("kjv-tiny-hf"));
        Assert.Equal(6 * 9 + 3, ckpt.Tensors.Count);
        var q = ckpt.Tensors["model.layers.0.q_proj.weight"];
        Assert.Equal(SafetensorsDType.BF16, q.DType);
        Assert.Equal([256L, 256L], q.Shape);
    }

    [Fact]
    public void ShardedCheckpointsAreReadThroughTheirIndex()
    {
        using var dir = TestPaths.Temp();
        // Split the valid file's tensors over two shards.
        File.WriteAllBytes(dir.File("model-00001-of-00002.safetensors"), SafetensorsBuilder.Raw(
            """{"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}}""", new byte[24]));
        File.WriteAllBytes(dir.File("model-00002-of-00002.safetensors"), SafetensorsBuilder.Raw(
            """{"b":{"dtype":"BF16","shape":[4],"data_offsets":[0,8]}}""", new byte[8]));
        File.WriteAllText(dir.File(SafetensorsCheckpoint.IndexFileName),
            """{"metadata":{"total_size":32},"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors"}}""");
        using (var ckpt = SafetensorsCheckpoint.Open(dir.Path))
        {
            Assert.Equal(2, ckpt.Files.Count);
            Assert.Equal(["a", "b"], ckpt.Tensors.Keys.Order());
            Assert.EndsWith("00002-of-00002.safetensors", ckpt.Tensors["b"].File.FilePath);
        }

        // A weight map that misplaces a tensor, names a missing shard, or escapes the folder.
        foreach (var (map, tensor) in new[]
        {
            ("""{"a":"model-00002-of-00002.safetensors","b":"model-00002-of-00002.safetensors"}""", "a"),
            ("""{"a":"model-00001-of-00002.safetensors","b":"model-00003-of-00002.safetensors"}""", (string?)null),
            ("""{"a":"../model-00001-of-00002.safetensors"}""", "a"),
            ("""{"a":"/etc/passwd"}""", "a"),
            ("""{"a":42}""", "a"),
        })
        {
            File.WriteAllText(dir.File(SafetensorsCheckpoint.IndexFileName), $$"""{"weight_map":{{map}}}""");
            var e = Assert.Throws<SafetensorsFormatException>(() => SafetensorsCheckpoint.Open(dir.Path).Dispose());
            Assert.Equal(tensor, e.TensorName);
            Assert.Contains(SafetensorsCheckpoint.IndexFileName, e.FilePath);
        }
        File.WriteAllText(dir.File(SafetensorsCheckpoint.IndexFileName), "{\"weight_map\": [");
        Assert.Throws<SafetensorsFormatException>(() => SafetensorsCheckpoint.Open(dir.Path).Dispose());
    }

    [Fact]
    public void AFolderWithoutWeightsIsReportedAsMissingFile()
    {
        using var dir = TestPaths.Temp();
        Assert.Throws<FileNotFoundException>(() => SafetensorsCheckpoint.Open(dir.Path));
    }
}
