using Eurus.Cpu.HuggingFace;
using Eurus.Cpu.Safetensors;

namespace Eurus.Cpu.Tests.HuggingFace;

/// <summary>Downloads from a local hub on 127.0.0.1: listing, resume after an interrupted transfer, checksum failures.</summary>
public class HfHubClientTests
{
    private const string Repo = "eurus-test/kjv-tiny";

    private static Dictionary<string, byte[]> DemoFiles()
    {
        var files = Directory.GetFiles(HfTestModels.Folder).ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes, StringComparer.Ordinal);
        files["README.md"] = "not needed"u8.ToArray();
        files["pytorch_model.bin"] = new byte[1000]; // must not be downloaded: Eurus.Cpu reads safetensors
        return files;
    }

    private static void AssertSameFiles(Dictionary<string, byte[]> served, string dir)
    {
        foreach (var name in new[] { "config.json", "tokenizer.model", "special_tokens_map.json", "model.safetensors" })
            Assert.True(served[name].AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(dir, name))), name);
        Assert.False(File.Exists(Path.Combine(dir, "pytorch_model.bin")));
        Assert.False(File.Exists(Path.Combine(dir, "README.md")));
        Assert.Empty(Directory.GetFiles(dir, "*.part"));
    }

    [Fact]
    public async Task PullResumesAnInterruptedTransferAndVerifiesIt()
    {
        using var hub = new FakeHub { RequiredToken = "secret" };
        var files = DemoFiles();
        hub.AddRepo(Repo, files);
        hub.InterruptOnce("model.safetensors");
        using var dir = TestPaths.Temp();
        using var client = new HfHubClient(hub.Endpoint, "secret");
        var reports = new List<HfDownloadProgress>();
        string got = await client.PullAsync(Repo, dir.Path, "main", new Sync<HfDownloadProgress>(reports.Add));
        Assert.Equal(dir.Path, got);
        AssertSameFiles(files, dir.Path);

        var log = hub.Requests.ToArray();
        Assert.All(log, r => Assert.EndsWith("Auth=Bearer secret", r));
        var weights = log.Where(r => r.Contains("/resolve/main/model.safetensors")).ToArray();
        Assert.Equal(2, weights.Length);
        Assert.Contains("Range= ", weights[0]);
        Assert.Contains($"Range=bytes={files["model.safetensors"].Length / 2}-", weights[1]);
        Assert.Equal(files["model.safetensors"].Length, reports.Last(r => r.File == "model.safetensors").BytesDone);

        // A second pull finds everything complete and verified: only the listing is fetched.
        int before = hub.Requests.Count;
        await client.PullAsync(Repo, dir.Path);
        Assert.Single(hub.Requests.Skip(before));

        // The pulled folder runs.
        using var model = Eurus.Cpu.Generation.EurusModel.Load(dir.Path, new() { Threads = 2, ContextLength = 64 });
        Assert.Equal(4096, model.Config.Vocab);
    }

    [Fact]
    public async Task APartialFileFromAnEarlierRunIsResumed()
    {
        using var hub = new FakeHub();
        var files = DemoFiles();
        hub.AddRepo(Repo, files);
        using var dir = TestPaths.Temp();
        File.WriteAllBytes(dir.File("model.safetensors.part"), files["model.safetensors"][..1_000_000]);
        using var client = new HfHubClient(hub.Endpoint, token: null);
        await client.PullAsync(Repo, dir.Path);
        AssertSameFiles(files, dir.Path);
        Assert.Contains(hub.Requests, r => r.Contains("/model.safetensors Range=bytes=1000000-"));
        Assert.DoesNotContain(hub.Requests, r => r.Contains("/model.safetensors Range= "));
    }

    [Fact]
    public async Task ACorruptedTransferIsDeletedAndReported()
    {
        using var hub = new FakeHub();
        var files = DemoFiles();
        hub.AddRepo(Repo, files);
        hub.Corrupt.Add("model.safetensors");
        using var dir = TestPaths.Temp();
        using var client = new HfHubClient(hub.Endpoint, token: null);
        var e = await Assert.ThrowsAsync<HfDownloadException>(() => client.PullAsync(Repo, dir.Path));
        Assert.Contains("model.safetensors", e.Message);
        Assert.Contains("checksum mismatch", e.Message);
        Assert.Contains("deleted", e.Message);
        Assert.False(File.Exists(dir.File("model.safetensors")));
        Assert.False(File.Exists(dir.File("model.safetensors.part")));

        // A corrupted partial file left by a resumed transfer fails the same way, and the next run starts afresh.
        hub.Corrupt.Clear();
        var bad = files["model.safetensors"][..2_000_000];
        bad[100] ^= 1;
        File.WriteAllBytes(dir.File("model.safetensors.part"), bad);
        e = await Assert.ThrowsAsync<HfDownloadException>(() => client.PullAsync(Repo, dir.Path));
        Assert.Contains("checksum mismatch", e.Message);
        Assert.False(File.Exists(dir.File("model.safetensors.part")));
        await client.PullAsync(Repo, dir.Path);
        AssertSameFiles(files, dir.Path);
    }

    [Fact]
    public async Task ShardedRepositoriesGetTheShardsTheIndexLists()
    {
        using var hub = new FakeHub();
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal)
        {
            ["config.json"] = File.ReadAllBytes(Path.Combine(HfTestModels.Folder, "config.json")),
            ["tokenizer.model"] = File.ReadAllBytes(Path.Combine(HfTestModels.Folder, "tokenizer.model")),
            ["model-00001-of-00002.safetensors"] = Safetensors.SafetensorsBuilder.Raw("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", new byte[8]),
            ["model-00002-of-00002.safetensors"] = Safetensors.SafetensorsBuilder.Raw("""{"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", new byte[8]),
            ["consolidated.safetensors"] = new byte[5000],
            [SafetensorsCheckpoint.IndexFileName] = """{"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors"}}"""u8.ToArray(),
        };
        hub.AddRepo("org/sharded", files);
        using var dir = TestPaths.Temp();
        using var client = new HfHubClient(hub.Endpoint, token: null);
        await client.PullAsync("org/sharded", dir.Path, "refs/pr/1");
        Assert.Contains(hub.Requests, r => r.Contains("/api/models/org/sharded/revision/refs/pr/1"));
        using var ckpt = SafetensorsCheckpoint.Open(dir.Path);
        Assert.Equal(2, ckpt.Files.Count);
        Assert.False(File.Exists(dir.File("consolidated.safetensors")));

        // An index naming a shard outside the folder is refused before any request for it.
        files[SafetensorsCheckpoint.IndexFileName] = """{"weight_map":{"a":"../escape.safetensors"}}"""u8.ToArray();
        files["../escape.safetensors"] = new byte[8];
        using var dir2 = TestPaths.Temp();
        var e = await Assert.ThrowsAsync<HfDownloadException>(() => client.PullAsync("org/sharded", dir2.Path));
        Assert.Contains("not a plain file name", e.Message);
    }

    [Fact]
    public async Task ErrorsNameTheProblem()
    {
        using var hub = new FakeHub { RequiredToken = "right" };
        hub.AddRepo(Repo, DemoFiles());
        using var dir = TestPaths.Temp();
        using (var noToken = new HfHubClient(hub.Endpoint, "wrong"))
            Assert.Contains("HF_TOKEN", (await Assert.ThrowsAsync<HfDownloadException>(() => noToken.PullAsync(Repo, dir.Path))).Message);
        using var client = new HfHubClient(hub.Endpoint, "right");
        Assert.Contains("404", (await Assert.ThrowsAsync<HfDownloadException>(() => client.PullAsync("nobody/nothing", dir.Path))).Message);
        Assert.Throws<ArgumentException>(() => HfHubClient.ValidateRepoId("../etc"));
        Assert.Throws<ArgumentException>(() => HfHubClient.ValidateRepoId("a/b/c"));
        Assert.Throws<ArgumentException>(() => new HfHubClient("ftp://example.com"));
        HfHubClient.ValidateRepoId("openbmb/Eurus-7b-kto");

        var noWeights = DemoFiles();
        noWeights.Remove("model.safetensors");
        hub.AddRepo("org/bin-only", noWeights);
        Assert.Contains("no safetensors", (await Assert.ThrowsAsync<HfDownloadException>(() => client.PullAsync("org/bin-only", dir.Path))).Message);
    }

    private sealed class Sync<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
