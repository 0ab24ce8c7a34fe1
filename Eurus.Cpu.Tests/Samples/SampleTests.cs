namespace Eurus.Cpu.Tests.Samples;

/// <summary>
/// Every sample, built with the tests (project references) against the public API only, runs on the demo model with
/// short outputs, as a user would start it.
/// </summary>
public sealed class SampleTests
{
    [Fact]
    public void ChatAnswersEachLineOfInput()
    {
        using var p = new SampleProcess("Chat", "Chat", "-n", "8", "--temp", "0");
        p.Write("Who made the earth?");
        p.Write("And then?");
        p.Write("");
        Assert.Equal(0, p.Exit());
        Assert.Equal(2, p.Err.Split('\n').Count(l => l.Contains("tokens in context")));
        Assert.DoesNotContain("Exception", p.Err);
        Assert.False(string.IsNullOrWhiteSpace(p.Out));
    }

    /// <summary>
    /// The bug: after the first Ctrl-C the token source was disposed, and the second Ctrl-C threw ObjectDisposedException.
    /// Two replies interrupted in a row, then the chat goes on and ends normally. A reply of the tiny model can end before
    /// the signal lands, so a few tries are allowed; at least one must interrupt two replies.
    /// </summary>
    [Cli.UnixFact]
    public void TwoCtrlCsInARowStopTwoRepliesAndTheChatGoesOn()
    {
        bool interruptedTwice = false;
        for (int attempt = 0; attempt < 5 && !interruptedTwice; attempt++)
        {
            using var p = new SampleProcess("Chat", "Chat", "-n", "100000", "--temp", "1.5");
            for (int reply = 1; reply <= 2 && !p.HasExited; reply++)
            {
                int before = p.Out.Length;
                p.Write("Tell me everything about the kings of Israel.");
                p.WaitFor(() => p.Out.Length > before);
                p.Interrupt(); // lands in the reply, or (if the reply already ended) at the prompt, which quits
                p.WaitFor(() => Count(p.Err, "tokens in context") >= reply);
            }
            if (!p.HasExited) p.Write("");
            int code = p.Exit();
            Assert.DoesNotContain("Exception", p.Err);
            if (Count(p.Err, "[stopped]") == 2)
            {
                Assert.Equal(0, code);
                interruptedTwice = true;
            }
        }
        Assert.True(interruptedTwice, "no attempt interrupted two replies in a row");
    }

    private static int Count(string text, string what) => (text.Length - text.Replace(what, "").Length) / what.Length;

    [Fact]
    public void ChatClientStreamsThroughDependencyInjectionWithTelemetry()
    {
        using var p = new SampleProcess("ChatClient", "ChatClient", "-n", "8", "--temp", "0", "--seed", "1");
        p.Write("Who made the earth?");
        p.Write("And then?");
        p.CloseInput();
        Assert.Equal(0, p.Exit());
        Assert.Contains("positions", p.Err);
        // Two turns: the OpenTelemetry middleware traced both, with their usage; the second prompt holds the first exchange.
        var traces = p.Err.Split('\n').Where(l => l.StartsWith("[otel] chat", StringComparison.Ordinal)).ToArray();
        Assert.Equal(2, traces.Length);
        Assert.All(traces, t => Assert.Contains(" 8 out", t));
        Assert.False(string.IsNullOrWhiteSpace(p.Out));
    }

    [Fact]
    public void StructuredOutputPrintsAParsedRecord()
    {
        foreach (string seed in new[] { "1", "2" })
        {
            using var p = new SampleProcess("StructuredOutput", "StructuredOutput", "--seed", seed);
            p.CloseInput();
            Assert.Equal(0, p.Exit());
            Assert.DoesNotContain("Exception", p.Err);
            Assert.Contains("JSON: {", p.Err);
            // "<book> <chapter>:<number> (<mood>[, memorable])", from the parsed record.
            Assert.Matches(@"^.{0,24} -?\d+:-?\d+ \((Joyful|Sorrowful|Wrathful)(, memorable)?\)\s*$", p.Out);
        }
    }

    /// <summary>
    /// The server sample's schema-constrained call: eurus-server runs as a process on a free port, the sample calls it
    /// with the official OpenAI client and a json_schema response format, and prints the record it deserialized.
    /// </summary>
    [Fact]
    public async Task ServerStructuredCallPrintsARecordFromTheServer()
    {
        int port;
        using (var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        }
        using var server = new SampleProcess("Server", "eurus-server", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-t", "1", "--parallel", "1");
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var ready = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            try { if ((await http.GetAsync($"http://127.0.0.1:{port}/health/ready")).IsSuccessStatusCode) break; }
            catch (HttpRequestException) { }
            Assert.False(server.HasExited, "the server exited: " + server.Err + server.Out);
            Assert.True(ready.Elapsed < TimeSpan.FromMinutes(1), "the server did not get ready: " + server.Err + server.Out);
            await Task.Delay(100);
        }
        foreach (string seed in new[] { "1", "2" })
        {
            using var p = new SampleProcess("ServerStructuredCall", "ServerStructuredCall", "--url", $"http://127.0.0.1:{port}", "--seed", seed);
            p.CloseInput();
            Assert.Equal(0, p.Exit());
            Assert.DoesNotContain("Exception", p.Err);
            Assert.Contains("JSON: {", p.Err);
            Assert.Contains("(finish: Stop,", p.Err);
            // "<book> <chapter>:<verse> (<mood>)", from the deserialized record.
            Assert.Matches(@"^.{0,24} -?\d+:-?\d+ \((Joyful|Sorrowful|Wrathful)\)\s*$", p.Out);
        }
        // No server there: a clear error, exit code 1.
        using (var none = new SampleProcess("ServerStructuredCall", "ServerStructuredCall", "--url", "http://127.0.0.1:1"))
        {
            none.CloseInput();
            Assert.Equal(1, none.Exit());
            Assert.Contains("did not answer", none.Err);
        }
    }

    [Fact]
    public void MathSolverPrintsAnAnswerLine()
    {
        using var p = new SampleProcess("MathSolver", "MathSolver", "What is 2 + 3?");
        p.CloseInput();
        Assert.Equal(0, p.Exit());
        Assert.Contains("answer: ", p.Out);
    }

    [Fact]
    public void CodeAssistantPrintsItsCodeSection()
    {
        using var p = new SampleProcess("CodeAssistant", "CodeAssistant", "Write a function that adds two numbers.");
        p.CloseInput();
        Assert.Equal(0, p.Exit());
        Assert.Contains("----- code -----", p.Out);
    }

    [Fact]
    public void ServerBenchRunsBothPaths()
    {
        using var p = new SampleProcess("Server", "eurus-server", "bench", "--streams", "1,2", "-n", "8", "-t", "1", "-r", "1");
        p.CloseInput();
        Assert.Equal(0, p.Exit());
        Assert.False(string.IsNullOrWhiteSpace(p.Out + p.Err));
    }
}
