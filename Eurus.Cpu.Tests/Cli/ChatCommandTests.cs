using System.Text.Json.Nodes;

namespace Eurus.Cpu.Tests.Cli;

/// <summary>
/// <c>eurus chat</c> driven through its stdin: multi-line turns, /save, /reset, /load (the loaded conversation continues
/// exactly as the original did), the context-full policy, and Ctrl-C (stops a reply; at the prompt ends with 130).
/// </summary>
public class ChatCommandTests
{
    private static JsonArray Turns(string file) => (JsonArray)JsonNode.Parse(File.ReadAllText(file))!["turns"]!;

    private static string Content(JsonArray turns, int i) => (string)turns[i]!["content"]!;

    [Fact]
    public void MultiLineTurnsResetSaveAndLoad()
    {
        using var temp = TestPaths.Temp();
        string f1 = temp.File("one.json"), fa = temp.File("a.json"), f0 = temp.File("zero.json"), fb = temp.File("b.json"), fc = temp.File("c.json");
        string input = string.Join('\n',
            "Who made the earth?", "And the waters?", "",          // one turn of two lines
            "/save " + f1,
            "And then?", "",
            "/save " + fa,
            "/reset",
            "/save " + f0,
            "/load " + f1,
            "And then?", "",                                       // must continue exactly as before the reset
            "/save " + fb,
            "\"\"\"", "first", "", "third", "\"\"\"",              // a fenced turn with an empty line inside
            "/save " + fc,
            "/exit", "");
        using var cli = new CliSession("chat", "-n", "12", "--temp", "0", "-t", "1", "-sys", "Be brief.");
        cli.Write(input);
        cli.CloseInput();
        int code = cli.WaitForExit(60);
        Assert.True(code == 0, $"exit {code}\nstderr: {cli.Err}");

        var one = Turns(f1);
        Assert.Equal(2, one.Count);
        Assert.Equal("Who made the earth?\nAnd the waters?", Content(one, 0));
        Assert.Equal("Be brief.", (string)JsonNode.Parse(File.ReadAllText(f1))!["system"]!);
        Assert.Empty(Turns(f0));
        Assert.Contains("loaded 1 exchange", cli.Err);

        var a = Turns(fa);
        var b = Turns(fb);
        Assert.Equal(4, a.Count);
        Assert.Equal(4, b.Count);
        for (int i = 0; i < 4; i++) Assert.Equal(Content(a, i), Content(b, i));
        Assert.NotEqual("", Content(b, 3));

        var c = Turns(fc);
        Assert.Equal(6, c.Count);
        Assert.Equal("first\n\nthird", Content(c, 4));
    }

    [Fact]
    public void AFullContextDropsTheOldestTurnsAndSaysSo()
    {
        using var temp = TestPaths.Temp();
        string saved = temp.File("kept.json");
        using var cli = new CliSession("chat", "-c", "96", "-n", "24", "--temp", "0", "-t", "1");
        cli.Write("Who made the earth?\n\nWho made the light?\n\nWho made the sea?\n\nWho made the stars?\n\n/save " + saved + "\n");
        cli.CloseInput();
        int code = cli.WaitForExit(60);
        Assert.True(code == 0, $"exit {code}\nstderr: {cli.Err}");
        Assert.Matches(@"the context is full: dropped the \d+ oldest exchanges?\.", cli.Err);
        var kept = Turns(saved);
        Assert.InRange(kept.Count, 2, 6);
        Assert.Equal("Who made the stars?", Content(kept, kept.Count - 2));
        Assert.NotEqual("Who made the earth?", Content(kept, 0));
    }

    [Fact]
    public void ALoadedFileThatIsNotAChatIsRefusedAndTheChatGoesOn()
    {
        using var temp = TestPaths.Temp();
        string bad = temp.File("bad.json");
        File.WriteAllText(bad, "{\"turns\": 3}");
        using var cli = new CliSession("chat", "-n", "4", "--temp", "0", "-t", "1");
        cli.Write($"/load {bad}\n/load {temp.File("missing.json")}\nWho made the earth?\n\n");
        cli.CloseInput();
        Assert.Equal(0, cli.WaitForExit(60));
        Assert.Contains("is not an eurus chat file", cli.Err);
        Assert.Contains("cannot load", cli.Err);
        Assert.Matches(@"generated \d+ tokens", cli.Err);
    }

    [UnixFact]
    public void CtrlCStopsTheReplyAndASecondCtrlCAtThePromptExits130()
    {
        using var temp = TestPaths.Temp();
        string model = GenerateInterruptTests.LongContextModel(temp);
        using var cli = new CliSession("chat", "-m", model, "-n", "16000", "--ignore-eos", "-s", "1", "-t", "1", "--kv-type", "f16");
        cli.WaitUntil((_, e) => e.Contains("\n> "), "the prompt");
        cli.Write("Tell me everything.\n\n");
        cli.WaitUntil((o, _) => o.Length > 20, "a reply");
        cli.Interrupt();
        cli.WaitUntil((_, e) => e.Contains("reply interrupted"), "the interruption notice");
        // Still running, back at its prompt: the conversation goes on.
        cli.Write("/help\n");
        cli.WaitUntil((_, e) => e.Contains("Commands: /reset"), "the /help text");
        cli.Interrupt();
        int code = cli.WaitForExit(20);
        Assert.True(code == 130, $"exit {code}\nstderr: {cli.Err}");
    }
}
