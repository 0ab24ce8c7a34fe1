using Eurus.Cpu.Fuzzing;

namespace Eurus.Server.Tests;

/// <summary>
/// The server-request fuzz harness (fuzz/Eurus.Cpu.Fuzz/Harnesses/ServerRequestHarness.cs, compiled into this project)
/// run in-process on its committed seeds, crash regressions and seeded mutations; see docs/fuzzing.md.
/// </summary>
public class FuzzRequestTests
{
    private const int Mutations = 400;
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(4);
    private const int Seed = 20261207;

    private static string Folder(string kind) => Path.Combine(AppContext.BaseDirectory, "fuzz", kind, "server-request");

    [Fact]
    public void Seeds_are_accepted()
    {
        var seeds = FuzzCorpus.Load(Folder("corpus"));
        Assert.NotEmpty(seeds);
        using var h = new ServerRequestHarness();
        foreach (var (name, rejected) in FuzzCorpus.RunAll(h, seeds))
            Assert.True(rejected is null, $"server-request seed {name} was rejected: {rejected?.Message}");
    }

    [Fact]
    public void Crash_regressions_do_not_crash()
    {
        using var h = new ServerRequestHarness();
        FuzzCorpus.RunAll(h, FuzzCorpus.Load(Folder("regressions")));
    }

    /// <summary>
    /// Found by the fuzzer: a string that is not valid UTF-8, or an escaped lone surrogate, in a JsonElement field
    /// (content, prompt, stop) failed only when the handler read it, with an InvalidOperationException: a 500.
    /// </summary>
    [Theory]
    [InlineData("chat-content-invalid-utf8.txt")]
    [InlineData("chat-content-lone-surrogate-escape.txt")]
    [InlineData("completion-prompt-lone-surrogate-escape.txt")]
    [InlineData("completion-stop-invalid-utf8.txt")]
    public void Undecodable_strings_are_a_400(string file)
    {
        using var h = new ServerRequestHarness();
        var rejected = h.Run(File.ReadAllBytes(Path.Combine(Folder("regressions"), file)));
        var e = Assert.IsType<ApiException>(rejected);
        Assert.Equal(400, e.Status);
        Assert.StartsWith("Malformed JSON body", e.Message);
    }

    /// <summary>
    /// Function calling's fields (tools, tool_choice, an assistant's tool_calls, a tool message), mutated: every input is
    /// answered or refused with a 4xx. (Not a committed seed: the harness's 96-position tiny model cannot hold the tool
    /// preamble, so the seed itself is refused as too long — after its fields are parsed, which is what is fuzzed here.)
    /// </summary>
    [Fact]
    public void Tool_request_mutations_do_not_crash()
    {
        byte[] seed = System.Text.Encoding.UTF8.GetBytes("""
            /v1/chat/completions
            {"messages":[{"role":"user","content":"x"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},{"role":"tool","tool_call_id":"c1","content":"2"}],"tools":[{"type":"function","function":{"name":"f","description":"d","parameters":{"type":"object","properties":{"a":{"type":"integer"},"b":{"enum":["x","y"]}},"required":["a"]}}}],"tool_choice":{"type":"function","function":{"name":"f"}},"max_tokens":4}
            """);
        using var h = new ServerRequestHarness();
        var r = h.Run(seed); // parsed all the way to the prompt, which is too long
        Assert.True(r is Eurus.Cpu.Generation.ContextFullException, r?.ToString());
        var (ran, _) = FuzzCorpus.RunMutations(h, [("tools", seed)], Mutations, Budget, Seed);
        Assert.True(ran > 0);
    }

    [Fact]
    public void Seeded_mutations_do_not_crash()
    {
        var seeds = FuzzCorpus.Load(Folder("corpus")).Concat(FuzzCorpus.Load(Folder("regressions"))).ToList();
        using var h = new ServerRequestHarness();
        var (ran, _) = FuzzCorpus.RunMutations(h, seeds, Mutations, Budget, Seed);
        Assert.True(ran > 0);
    }
}
