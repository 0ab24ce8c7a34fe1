using Eurus.Cpu.Grammars;
using Xunit;

namespace Eurus.Cpu.Tests.Grammars;

/// <summary>GBNF: the corpus grammars accept and reject their texts; bad grammars fail at parse time with line and column.</summary>
public sealed class GbnfConformanceTests
{
    public static TheoryData<string> Names() => [.. GrammarCorpus.Cases.Select(c => c.Name)];

    [Theory]
    [MemberData(nameof(Names))]
    public void AcceptsAndRejects(string name)
    {
        var c = GrammarCorpus.Cases.Single(x => x.Name == name);
        var g = Grammar.Parse(c.Grammar);
        foreach (var text in c.Accept) Assert.True(g.Matches(text), $"{name} should accept {Show(text)}");
        foreach (var text in c.Reject) Assert.False(g.Matches(text), $"{name} should reject {Show(text)}");
    }

    public static TheoryData<int> ErrorIndexes() => [.. Enumerable.Range(0, GrammarCorpus.Errors.Length)];

    [Theory]
    [MemberData(nameof(ErrorIndexes))]
    public void BadGrammarsGiveLineAndColumn(int index)
    {
        var (text, line, column, message) = GrammarCorpus.Errors[index];
        var e = Assert.Throws<GrammarException>(() => Grammar.Parse(text));
        Assert.Contains(message, e.Message);
        Assert.Equal((line, column), (e.Line, e.Column));
        Assert.StartsWith($"line {line}, column {column}: ", e.Message);
    }

    [Fact]
    public void PrefixesOfASentenceStayAliveAndOthersDie()
    {
        var g = Grammar.Parse(GrammarCorpus.Json);
        var a = g.Automaton;
        const string text = "{\"key\": [1, \"é😀\"]}";
        var bytes = System.Text.Encoding.UTF8.GetBytes(text);
        int state = a.Start;
        for (int i = 0; i < bytes.Length; i++)
        {
            Assert.False(a.IsAccepting(state), $"accepting after {i} bytes");
            state = a.Step(state, bytes[i]);
            Assert.True(state >= 0, $"dead after {i + 1} bytes");
        }
        Assert.True(a.IsAccepting(state));
        Assert.True(a.Step(a.Start, (byte)'[') < 0);       // root is an object
        Assert.True(a.Step(a.Start, 0x80) < 0);             // a continuation byte cannot start a character
        int inString = a.Start;
        foreach (byte b in "{\""u8) inString = a.Step(inString, b);
        Assert.True(a.Step(inString, 0xF0) >= 0);           // the start of a 4-byte character inside a string
        Assert.True(a.Step(a.Step(inString, 0xED), 0xA0) < 0); // a UTF-16 surrogate encoded in UTF-8 is not a character
    }

    [Fact]
    public void APartialCharacterIsAllowedOnlyIfItCanCompleteToAnAllowedOne()
    {
        // Only Greek letters: the lead byte of é (C3) can never complete to one; that of α (CE) can.
        var a = Grammar.Parse("root ::= [α-ω]+").Automaton;
        Assert.True(a.Step(a.Start, 0xC3) < 0);
        Assert.True(a.Step(a.Start, 0xCE) >= 0);
    }

    [Fact]
    public void RepetitionLoopsDoNotGrowTheStacks()
    {
        // A long list is matched in a bounded number of states: the repetition's recursion is a tail call.
        var g = Grammar.Parse(GrammarCorpus.List);
        var text = string.Concat(Enumerable.Repeat("- item number one\n", 200));
        Assert.True(g.Matches(text));
        int states = g.Automaton.StateCount;
        Assert.True(g.Matches(text + text));
        Assert.Equal(states, g.Automaton.StateCount);
        Assert.True(states < 20, $"{states} states");
    }

    [Fact]
    public void ALongChainOfRulesDoesNotOverflowTheStack()
    {
        // r0 ::= r1, r1 ::= r2, … : expanding the start walks the whole chain without reading a character.
        const int n = 200_000;
        var sb = new System.Text.StringBuilder("root ::= r0\n");
        for (int i = 0; i < n; i++) sb.Append($"r{i} ::= r{i + 1} | \"x\"\n");
        sb.Append($"r{n} ::= \"y\"\n");
        var g = Grammar.Parse(sb.ToString());
        Assert.True(g.Matches("x"));
        Assert.True(g.Matches("y"));
        Assert.False(g.Matches("z"));
    }

    private static string Show(string s) => System.Text.Json.JsonSerializer.Serialize(s);
}
