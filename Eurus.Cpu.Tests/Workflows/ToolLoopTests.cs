using Eurus.Cpu.Prompts;
using Eurus.Cpu.Tools;

namespace Eurus.Cpu.Tests.Workflows;

public class ToolLoopTests
{
    private static ToolLoopOptions Allowed => new() { AllowCodeExecution = true, Python = new PythonOptions { Timeout = TimeSpan.FromSeconds(2) } };

    [Fact]
    public async Task RunsCodeFeedsObservationsBackAndStopsAtTheSolution()
    {
        var model = new ScriptedResponder(
            "Step 1: compute.\n```python\nx = 6 * 7\nx\n```",
            "Step 2: use the state.\n<execute>print(x + 1)</execute>",
            "The answer is <solution>43</solution>");
        using var loop = new PythonToolLoop(model, Allowed);
        var r = await loop.RunAsync(EurusPrompts.MathPot("What is 6*7+1?"));
        Assert.Equal(ToolLoopStop.Answered, r.Stop);
        Assert.Equal("43", r.Answer);
        Assert.Equal(2, r.Executions.Count);
        Assert.Equal("43\n", r.LastOutput);
        Assert.Equal(
        [
            EurusPrompts.MathPot("What is 6*7+1?"),
            "Observation:\n42\nYou have 4 steps left and 2 chances to propose solution left.",
            "Observation:\n43\nYou have 3 steps left and 2 chances to propose solution left.",
        ], model.Received);
        Assert.Equal(6, r.Transcript.Count);
        Assert.Equal(ChatTurn.Assistant("The answer is <solution>43</solution>"), r.Transcript[^1]);
        Assert.All(model.Settings, s => Assert.Equal(EurusPrompts.ToolStopStrings, s!.StopStrings));
        Assert.All(model.Settings, s => Assert.Equal(0, s!.Temperature));
    }

    [Fact]
    public async Task OutFormatAndBoxedAnswer()
    {
        var model = new ScriptedResponder("```python\nimport math\nprint(math.comb(5, 2))\n```", "So \\boxed{10}.");
        using var loop = new PythonToolLoop(model, Allowed with { ResultFormat = ToolResultFormat.Out });
        var r = await loop.RunAsync("task");
        Assert.Equal("Out: 10", model.Received[1]);
        Assert.Equal("10", r.Answer);
    }

    [Fact]
    public async Task CodeIsNotRunUnlessAllowed()
    {
        var model = new ScriptedResponder("```python\nopen('should-not-exist', 'w')\n```");
        using var loop = new PythonToolLoop(model);
        var r = await loop.RunAsync("task");
        Assert.Equal(ToolLoopStop.ExecutionDisabled, r.Stop);
        Assert.Empty(r.Executions);
        Assert.Single(model.Received);
    }

    [Fact]
    public async Task LimitsInfiniteLoopHugeOutputCrashSyntaxErrorAndStepLimit()
    {
        string[] code =
        [
            "```python\ny = 5\nwhile True:\n    pass\n```",
            "```python\nprint(y)\n```",
            "```python\nprint('ab' * 100000)\n```",
            "```python\nimport os\nos._exit(1)\n```",
            "```python\nprint(('unclosed'\n```",
        ];
        var model = new ScriptedResponder(code);
        using var loop = new PythonToolLoop(model, Allowed);
        var r = await loop.RunAsync("task");
        Assert.Equal(ToolLoopStop.StepLimit, r.Stop);
        Assert.Equal(5, model.Received.Count);           // the task and four observations; the fifth reply ends the loop
        Assert.Equal(4, r.Executions.Count);
        Assert.Contains("TimeoutError", model.Received[1]);
        Assert.Contains("NameError", model.Received[2]);  // the restart lost y
        string huge = model.Received[3];
        Assert.StartsWith("Observation:\n" + new string('a', 1) + "b", huge);
        Assert.Equal("Observation:\n".Length + 2000 + "\nYou have 2 steps left and 2 chances to propose solution left.".Length, huge.Length);
        Assert.Contains("exited (code 1)", model.Received[4]);
        Assert.EndsWith("You have 1 steps left and 2 chances to propose solution left.", model.Received[4]);
    }

    [Fact]
    public async Task SyntaxErrorAndNoOutputAreObserved()
    {
        var model = new ScriptedResponder("<execute>print(('x'</execute>", "<execute>z = 1</execute>", "Nothing to run.");
        using var loop = new PythonToolLoop(model, Allowed);
        var r = await loop.RunAsync("task");
        Assert.Contains("SyntaxError", model.Received[1]);
        Assert.Equal("Observation:\n[Executed Successfully with No Output]\nYou have 3 steps left and 2 chances to propose solution left.", model.Received[2]);
        Assert.Equal(ToolLoopStop.NoCode, r.Stop);
        Assert.Null(r.Answer);
    }

    [Fact]
    public void CodeBlocksAreFoundInOrderAndUnclosedOnesIgnored()
    {
        string text = "a\n```python\nprint(1)\n```\nb <execute>print(2)</execute> c <execute>\n```python\nprint(3)\n```\n</execute>\n```python\nprint(4)";
        Assert.Equal(["print(1)", "print(2)", "print(3)"], CodeBlocks.Extract(text));
        Assert.Equal("7", CodeBlocks.ExtractSolution("<solution>1</solution> then <solution> 7 </solution>"));
        Assert.Null(CodeBlocks.ExtractSolution("no"));
    }

    [Theory]
    [InlineData("x = 1\nx + 1", "x = 1\nprint(x + 1)")]
    [InlineData("print(2)", "print(2)")]
    [InlineData("y = 3", "y = 3")]
    [InlineData("a == b", "print(a == b)")]
    [InlineData("for i in range(3):\n    i", "for i in range(3):\n    i")]
    [InlineData("import math", "import math")]
    public void PrintLastLineWrapsOnlyBareExpressions(string code, string expected) => Assert.Equal(expected, CodeBlocks.PrintLastLine(code));
}
