using System.Diagnostics;
using Eurus.Cpu.HuggingFace;
using Eurus.Cpu.Safetensors;

namespace Eurus.Cpu.Tests.HuggingFace;

/// <summary>
/// Downloads from a local hub on 127.0.0.1: listing, resume after an interrupted transfer, checksum failures, and a hub
/// that misbehaves (a branch that moves during the pull, bodies longer than listed, a huge listing, no answer, a stall).
/// </summary>
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
        var weights = log.Where(r => r.Contains($"/resolve/{hub.HeadOf(Repo)}/model.safetensors")).ToArray();
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

    /// <summary>Longest a misbehaving-hub test waits: a hang fails the test (a TimeoutException, not the expected error) instead of blocking the run.</summary>
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(15);

    /// <summary>
    /// A short timeout so that each timeout test takes a second or two; only the one under test is short, so a slow
    /// moment of a busy machine elsewhere in the pull cannot pass for it.
    /// </summary>
    private static readonly TimeSpan Short = TimeSpan.FromMilliseconds(500);

    /// <summary>What loopback socket buffers can hold, far below the gigabyte a misbehaving body offers.</summary>
    private const long InFlight = 16 << 20;

    private static long SentFor(FakeHub hub, string pathEnd) => hub.BytesSent.Where(p => p.Key.EndsWith(pathEnd, StringComparison.Ordinal)).Sum(p => p.Value);

    private static byte[] Flipped(byte[] data, int at)
    {
        var copy = (byte[])data.Clone();
        copy[at] ^= 0x20;
        return copy;
    }

    [Fact]
    public async Task EveryFileComesFromTheListedCommitWhileTheBranchMoves()
    {
        using var hub = new FakeHub();
        var first = DemoFiles();
        string commit = hub.AddRepo(Repo, first);
        // Pushed to the branch right after the listing: a config.json of the same size (which has no SHA-256 to catch
        // it) and other weights.
        var second = DemoFiles();
        second["config.json"] = Flipped(first["config.json"], first["config.json"].Length / 2);
        second["model.safetensors"] = Flipped(first["model.safetensors"], 12345);
        hub.MoveHeadAfterNextListing(Repo, second);
        using var dir = TestPaths.Temp();
        using var client = new HfHubClient(hub.Endpoint, token: null);
        await client.PullAsync(Repo, dir.Path).WaitAsync(Bound);
        Assert.NotEqual(commit, hub.HeadOf(Repo));
        AssertSameFiles(first, dir.Path);
        var downloads = hub.Requests.Where(r => r.Contains("/resolve/")).ToArray();
        Assert.Equal(4, downloads.Length);
        Assert.All(downloads, r => Assert.Contains($"/resolve/{commit}/", r));

        // The listing itself gives the commit.
        var listing = await client.ListFilesAsync(Repo).WaitAsync(Bound);
        Assert.Equal(hub.HeadOf(Repo), listing.Commit);
        Assert.Equal(second.Count, listing.Files.Count);

        // Asking for a commit and being answered with another is an error, not a download of the other.
        string other = new('a', 40);
        using var dir2 = TestPaths.Temp();
        int before = hub.Requests.Count;
        var e = await Assert.ThrowsAsync<HfDownloadException>(() => client.PullAsync(Repo, dir2.Path, other).WaitAsync(Bound));
        Assert.Contains(other, e.Message);
        Assert.Contains(hub.HeadOf(Repo), e.Message);
        Assert.Single(hub.Requests.Skip(before));
    }

    [Fact]
    public async Task APartialFileWithoutASha256FromAnEarlierRunIsNotResumed()
    {
        // config.json has no SHA-256 in the listing: a .part left by an earlier run (here: of another commit's config of
        // the same size) would be completed into a file of the right size and the wrong content.
        using var hub = new FakeHub();
        var files = DemoFiles();
        hub.AddRepo(Repo, files);
        using var dir = TestPaths.Temp();
        var config = files["config.json"];
        File.WriteAllBytes(dir.File("config.json.part"), Flipped(config, 10)[..(config.Length / 2)]);
        using var client = new HfHubClient(hub.Endpoint, token: null);
        await client.PullAsync(Repo, dir.Path).WaitAsync(Bound);
        AssertSameFiles(files, dir.Path);
        Assert.Contains(hub.Requests, r => r.Contains("/config.json Range= "));
        Assert.DoesNotContain(hub.Requests, r => r.Contains("/config.json Range=bytes"));
    }

    [Fact]
    public async Task AListingWithoutACommitIsRefused()
    {
        using var hub = new FakeHub { OmitCommitSha = true };
        hub.AddRepo(Repo, DemoFiles());
        using var dir = TestPaths.Temp();
        using var client = new HfHubClient(hub.Endpoint, token: null);
        var e = await Assert.ThrowsAsync<HfDownloadException>(() => client.PullAsync(Repo, dir.Path).WaitAsync(Bound));
        Assert.Contains("commit", e.Message);
        Assert.Single(hub.Requests);
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path));
    }

    [Theory]
    [InlineData(Misbehaviour.EndlessBody)]
    [InlineData(Misbehaviour.HugeContentLength)]
    public async Task ABodyLongerThanListedIsCutOffAndDeleted(Misbehaviour mode)
    {
        using var hub = new FakeHub();
        var files = DemoFiles();
        hub.AddRepo(Repo, files);
        hub.Misbehave["model.safetensors"] = mode;
        using var dir = TestPaths.Temp();
        using var client = new HfHubClient(hub.Endpoint, token: null);
        var e = await Assert.ThrowsAsync<HfDownloadException>(() => client.PullAsync(Repo, dir.Path).WaitAsync(Bound));
        long size = files["model.safetensors"].Length;
        Assert.Contains("model.safetensors", e.Message);
        Assert.Contains($"more than the {size} bytes", e.Message);
        Assert.False(File.Exists(dir.File("model.safetensors")));
        Assert.False(File.Exists(dir.File("model.safetensors.part")));
        Assert.True(File.Exists(dir.File("config.json"))); // files served correctly are kept
        long sent = SentFor(hub, "/model.safetensors");
        Assert.True(sent < size + InFlight, $"the hub got to send {sent} bytes of a {size}-byte file");
        Assert.Single(hub.Requests, r => r.Contains("/model.safetensors")); // not retried: the server is wrong, not the network
    }

    [Fact]
    public async Task AFileWithoutAListedSizeIsCappedByTheOption()
    {
        using var hub = new FakeHub();
        var files = DemoFiles();
        hub.AddRepo(Repo, files);
        hub.Unsized.Add("model.safetensors");
        hub.Unsized.Add("config.json");
        using var dir = TestPaths.Temp();
        using (var strict = new HfHubClient(hub.Endpoint, token: null, options: new HfHubClientOptions { MaxUnlistedFileBytes = 1 << 20 }))
        {
            var e = await Assert.ThrowsAsync<HfDownloadException>(() => strict.PullAsync(Repo, dir.Path).WaitAsync(Bound));
            Assert.Contains("model.safetensors", e.Message);
            Assert.Contains("MaxUnlistedFileBytes", e.Message);
            Assert.False(File.Exists(dir.File("model.safetensors")));
            Assert.False(File.Exists(dir.File("model.safetensors.part")));
            Assert.Equal(files["config.json"], File.ReadAllBytes(dir.File("config.json"))); // small enough
        }
        using var roomy = new HfHubClient(hub.Endpoint, token: null, options: new HfHubClientOptions { MaxUnlistedFileBytes = 1 << 24 });
        await roomy.PullAsync(Repo, dir.Path).WaitAsync(Bound);
        AssertSameFiles(files, dir.Path);
    }

    [Theory]
    [InlineData(Misbehaviour.EndlessBody)]
    [InlineData(Misbehaviour.HugeContentLength)]
    public async Task AListingLargerThanTheLimitIsRefusedWithoutReadingIt(Misbehaviour mode)
    {
        using var hub = new FakeHub();
        hub.AddRepo(Repo, DemoFiles());
        hub.Misbehave[FakeHub.Listing] = mode;
        using var dir = TestPaths.Temp();
        using var client = new HfHubClient(hub.Endpoint, token: null, options: new HfHubClientOptions { MaxListingBytes = 64 << 10 });
        var e = await Assert.ThrowsAsync<HfDownloadException>(() => client.PullAsync(Repo, dir.Path).WaitAsync(Bound));
        Assert.Contains("MaxListingBytes", e.Message);
        Assert.Contains("65536", e.Message);
        long sent = SentFor(hub, "/revision/main");
        Assert.True(sent < InFlight, $"the hub got to send {sent} bytes of the listing");
        Assert.Single(hub.Requests);
    }

    [Fact]
    public async Task AServerThatNeverAnswersTimesOut()
    {
        using var hub = new FakeHub();
        var files = DemoFiles();
        hub.AddRepo(Repo, files);
        using var dir = TestPaths.Temp();
        using var client = new HfHubClient(hub.Endpoint, token: null, options: new HfHubClientOptions { ResponseHeadersTimeout = Short });

        hub.Misbehave[FakeHub.Listing] = Misbehaviour.NoHeaders;
        var e = await Assert.ThrowsAsync<HfDownloadException>(() => client.PullAsync(Repo, dir.Path).WaitAsync(Bound));
        Assert.Contains("ResponseHeadersTimeout", e.Message);
        Assert.IsType<TimeoutException>(e.InnerException);

        // A file: each of the four tries times out, then the pull fails saying why.
        hub.Misbehave.Clear();
        hub.Misbehave["model.safetensors"] = Misbehaviour.NoHeaders;
        e = await Assert.ThrowsAsync<HfDownloadException>(() => client.PullAsync(Repo, dir.Path).WaitAsync(Bound));
        Assert.Contains("model.safetensors", e.Message);
        Assert.Contains("ResponseHeadersTimeout", e.Message);
        Assert.IsType<TimeoutException>(e.InnerException);
        Assert.Equal(4, hub.Requests.Count(r => r.Contains("/model.safetensors")));

        // The timeout is for the headers only: a body that takes longer than it to arrive is fine.
        hub.Misbehave["model.safetensors"] = Misbehaviour.Trickle;
        var clock = Stopwatch.StartNew();
        await client.PullAsync(Repo, dir.Path).WaitAsync(Bound);
        Assert.True(clock.Elapsed > Short, $"the trickle took only {clock.Elapsed}");
        AssertSameFiles(files, dir.Path);

        // Cancellation still ends the wait at once (with the default 30 s timeout), as a cancellation.
        hub.Misbehave["model.safetensors"] = Misbehaviour.NoHeaders;
        File.Delete(dir.File("model.safetensors"));
        using var patient = new HfHubClient(hub.Endpoint, token: null);
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        clock.Restart();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => patient.PullAsync(Repo, dir.Path, cancellationToken: cts.Token).WaitAsync(Bound));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"cancelling took {clock.Elapsed}");
    }

    [Fact]
    public async Task AStalledBodyTimesOutAndKeepsWhatItGot()
    {
        using var hub = new FakeHub();
        var files = DemoFiles();
        hub.AddRepo(Repo, files);
        using var dir = TestPaths.Temp();
        using var client = new HfHubClient(hub.Endpoint, token: null, options: new HfHubClientOptions { StallTimeout = Short });

        // Every try sends half of what is left, then nothing.
        hub.Misbehave["model.safetensors"] = Misbehaviour.StallHalfway;
        var e = await Assert.ThrowsAsync<HfDownloadException>(() => client.PullAsync(Repo, dir.Path).WaitAsync(Bound));
        Assert.Contains("model.safetensors", e.Message);
        Assert.Contains("StallTimeout", e.Message);
        Assert.IsType<TimeoutException>(e.InnerException);
        var data = files["model.safetensors"];
        long kept = 0;
        for (int i = 0; i < 4; i++) kept += (data.Length - kept) / 2;
        Assert.Equal(data.AsSpan(0, (int)kept).ToArray(), File.ReadAllBytes(dir.File("model.safetensors.part")));
        Assert.Equal(4, hub.Requests.Count(r => r.Contains("/model.safetensors")));

        // The next run resumes from there.
        hub.Misbehave.Clear();
        await client.PullAsync(Repo, dir.Path).WaitAsync(Bound);
        AssertSameFiles(files, dir.Path);
        Assert.Contains(hub.Requests, r => r.Contains($"/model.safetensors Range=bytes={kept}-"));

        // A body that is slow but never silent for the stall timeout is not cut off, however long it takes in all.
        hub.Misbehave["model.safetensors"] = Misbehaviour.Trickle;
        File.Delete(dir.File("model.safetensors"));
        var clock = Stopwatch.StartNew();
        await client.PullAsync(Repo, dir.Path).WaitAsync(Bound);
        Assert.True(clock.Elapsed > Short, $"the trickle took only {clock.Elapsed}");
        AssertSameFiles(files, dir.Path);

        // A stalled listing fails the same way.
        hub.Misbehave[FakeHub.Listing] = Misbehaviour.StallHalfway;
        e = await Assert.ThrowsAsync<HfDownloadException>(() => client.PullAsync(Repo, dir.Path).WaitAsync(Bound));
        Assert.Contains("StallTimeout", e.Message);

        // Cancellation still ends a stalled body at once (with the default 60 s stall timeout), as a cancellation.
        hub.Misbehave.Clear();
        hub.Misbehave["model.safetensors"] = Misbehaviour.StallHalfway;
        using var dir2 = TestPaths.Temp();
        using var patient = new HfHubClient(hub.Endpoint, token: null);
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
        clock.Restart();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => patient.PullAsync(Repo, dir2.Path, cancellationToken: cts.Token).WaitAsync(Bound));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"cancelling took {clock.Elapsed}");
    }

    [Fact]
    public void OptionsAreCheckedWhenTheClientIsMade()
    {
        var options = new HfHubClientOptions { StallTimeout = Timeout.InfiniteTimeSpan, MaxUnlistedFileBytes = 0 };
        using (var client = new HfHubClient("http://127.0.0.1:9", token: null, options: options))
            Assert.Same(options, client.Options);
        foreach (var bad in new HfHubClientOptions[]
                 {
                     new() { ResponseHeadersTimeout = TimeSpan.Zero },
                     new() { StallTimeout = TimeSpan.FromMilliseconds(-5) },
                     new() { StallTimeout = TimeSpan.FromDays(50) },
                     new() { MaxListingBytes = 0 },
                     new() { MaxUnlistedFileBytes = -1 },
                 })
            Assert.Throws<ArgumentOutOfRangeException>(() => new HfHubClient("http://127.0.0.1:9", token: null, options: bad));
    }

    private sealed class Sync<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}
