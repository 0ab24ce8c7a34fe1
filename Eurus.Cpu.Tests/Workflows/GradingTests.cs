using Eurus.Cpu.Grading;
using Eurus.Cpu.Tools;

namespace Eurus.Cpu.Tests.Workflows;

public class GradingTests
{
    [Theory]
    [InlineData("So the total is \\boxed{42}.", "42")]
    [InlineData("We get \\boxed{\\frac{1}{2}} and finally \\boxed{\\frac{\\sqrt{3}}{2}}", "\\frac{\\sqrt{3}}{2}")]
    [InlineData("\\fbox{7}", "7")]
    [InlineData("Step 2: ...\nAnswer:\n\\boxed{x^{2}+1}", "x^{2}+1")]
    [InlineData("The answer is 17.", "17")]
    [InlineData("The answer is: $3\\pi$.\nDone", "3\\pi")]
    [InlineData("\\boxed{5} but the final answer is 6", "6")]
    [InlineData("answer: \\boxed{\\{1, 2\\}}", "\\{1, 2\\}")]
    [InlineData("\\boxed 9 is it", "9")]
    [InlineData("cut off \\boxed{\\frac{1}{", null)]
    [InlineData("no final answer here", null)]
    public void Extraction(string completion, string? expected) => Assert.Equal(expected, MathAnswer.Extract(completion));

    [Theory]
    [InlineData("1/2", "\\frac{1}{2}")]
    [InlineData("\\dfrac{1}{2}", "\\frac12")]
    [InlineData("0.5", "\\frac{1}{2}")]
    [InlineData("$5$", "5")]
    [InlineData("5.0", "5")]
    [InlineData("5.000", "5")]
    [InlineData("12 \\text{ cm}", "12")]
    [InlineData("12 dollars", "12")]
    [InlineData("\\$1,000", "1000")]
    [InlineData("\\left( 1, 2 \\right)", "(1,2)")]
    [InlineData("(1, 2.0)", "(1,2)")]
    [InlineData("x = 3", "3")]
    [InlineData("50\\%", "0.5")]
    [InlineData("25%", "25")]
    [InlineData("3.14159", "3.14160")]
    [InlineData("-\\frac{3}{4}", "-0.75")]
    [InlineData("90^\\circ", "90")]
    [InlineData(".5", "0.5")]
    [InlineData("\\sqrt2", "\\sqrt{2}")]
    [InlineData("100000", "100001")] // within 1e-4 relative
    public void Equivalent(string predicted, string reference) => Assert.True(MathAnswer.AreEquivalent(predicted, reference), $"{predicted} vs {reference}");

    [Theory]
    [InlineData("1/3", "0.33")]
    [InlineData("5", "6")]
    [InlineData("2x", "2")]
    [InlineData("(1, 2)", "(2, 1)")]
    [InlineData("50", "0.5")]            // no percent sign: not the same
    [InlineData("3.1", "3.14159")]
    [InlineData("", "0")]
    [InlineData("\\frac{1}{0}", "0")]
    [InlineData("1000", "1001")]          // 1e-3 relative: too far
    public void NotEquivalent(string predicted, string reference) => Assert.False(MathAnswer.AreEquivalent(predicted, reference), $"{predicted} vs {reference}");

    [Fact]
    public void NullPredictionIsWrong() => Assert.False(MathAnswer.AreEquivalent(null, "1"));

    [Theory]
    [InlineData("```python\ndef f():\n    return 1\n```\nExplanation ``` more", "def f():\n    return 1\n")]
    [InlineData("    return a + b\n```\nThis adds.", "    return a + b\n")]
    [InlineData("Here it is:\n```python\nx = 1\n```", "x = 1\n")]
    [InlineData("```\ny = 2\n```", "y = 2\n")]
    [InlineData("no fence at all", "no fence at all")]
    public void CodeIsCutAtTheFirstClosingFence(string completion, string expected) => Assert.Equal(expected, CodeAnswer.ExtractCode(completion));

    [Fact]
    public async Task CodeTestsPassFailAndTimeOut()
    {
        var fast = new PythonOptions { Timeout = TimeSpan.FromSeconds(2) };
        var ok = await CodeAnswer.RunTestsAsync("def add(a, b):\n    return a + b", "assert add(2, 3) == 5\nassert add(-1, 1) == 0", fast);
        Assert.True(ok.Passed);
        var wrong = await CodeAnswer.RunTestsAsync("def add(a, b):\n    return a - b", "assert add(2, 3) == 5", fast);
        Assert.False(wrong.Passed);
        Assert.Contains("AssertionError", wrong.Execution.Output);
        var slow = await CodeAnswer.RunTestsAsync("def add(a, b):\n    while True: pass", "assert add(2, 3) == 5", fast);
        Assert.False(slow.Passed);
        Assert.True(slow.Execution.TimedOut);
        var broken = await CodeAnswer.RunTestsAsync("def add(a, b)\n    return a + b", "assert add(2, 3) == 5", fast);
        Assert.False(broken.Passed);
        Assert.Contains("SyntaxError", broken.Execution.Output);
    }

    // Each solution defines a wrong add (a - b): were the tests run, they would fail; a solution passing means they never ran.
    [Theory]
    [InlineData("import sys\ndef add(a, b):\n    return a - b\nsys.exit()")]
    [InlineData("import sys\ndef add(a, b):\n    return a - b\nsys.exit(0)")]
    [InlineData("def add(a, b):\n    return a - b\nexit()")]
    [InlineData("def add(a, b):\n    return a - b\nquit()")]
    [InlineData("def add(a, b):\n    return a - b\nraise SystemExit")]
    [InlineData("import sys\ndef add(a, b):\n    return a - b\ndef main():\n    return 0\nif __name__ == \"__main__\":\n    sys.exit(main())")]
    [InlineData("import os\ndef add(a, b):\n    return a - b\nos._exit(0)")]
    [InlineData("import threading, os, time\ndef add(a, b):\n    return a - b\nthreading.Thread(target=lambda: (time.sleep(0.2), os._exit(0))).start()")]
    public async Task ASolutionThatExitsDoesNotPass(string solution)
    {
        var r = await CodeAnswer.RunTestsAsync(solution, "assert add(2, 3) == 5", Fast);
        Assert.False(r.Passed, r.Execution.Output);
        Assert.True(r.Execution.Failed);
    }

    [Fact]
    public async Task AnExpectedExitStillRunsTheTests()
    {
        const string program = "import sys\ndef add(a, b):\n    return a {0} b\ndef main():\n    print('main ran')\n    return {1}\n" +
                               "if __name__ == \"__main__\":\n    sys.exit(main())";
        var ok = await CodeAnswer.RunTestsAsync(string.Format(program, "+", "0"), "assert add(2, 3) == 5", Fast, allowSystemExit: true);
        Assert.True(ok.Passed, ok.Execution.Output);
        Assert.Equal("main ran\n", ok.Execution.Output);
        var none = await CodeAnswer.RunTestsAsync(string.Format(program, "+", "None"), "assert add(2, 3) == 5", Fast, allowSystemExit: true);
        Assert.True(none.Passed, none.Execution.Output);
        // The tests do run after the exit: a wrong function fails them.
        var wrong = await CodeAnswer.RunTestsAsync(string.Format(program, "-", "0"), "assert add(2, 3) == 5", Fast, allowSystemExit: true);
        Assert.False(wrong.Passed);
        Assert.Contains("AssertionError", wrong.Execution.Output);
        // A non-zero status is a failure even when exiting is allowed, and any exit is one by default.
        var status = await CodeAnswer.RunTestsAsync(string.Format(program, "+", "3"), "assert add(2, 3) == 5", Fast, allowSystemExit: true);
        Assert.False(status.Passed);
        Assert.Contains("status 3", status.Execution.Output);
        var strict = await CodeAnswer.RunTestsAsync(string.Format(program, "+", "0"), "assert add(2, 3) == 5", Fast);
        Assert.False(strict.Passed);
        Assert.Contains("SystemExit", strict.Execution.Output);
        // Exiting while the tests run is never allowed.
        var during = await CodeAnswer.RunTestsAsync("import sys\ndef add(a, b):\n    sys.exit(0)", "assert add(2, 3) == 5", Fast, allowSystemExit: true);
        Assert.False(during.Passed);
        Assert.Contains("while the tests ran", during.Execution.Output);
    }

    [Theory]
    [InlineData("import sys\ndef add(a, b):\n    sys.exit(0)")]                   // exits when a test calls it
    [InlineData("import os\ndef add(a, b):\n    os._exit(0)")]
    [InlineData("def add(a, b):\n    raise SystemExit(0)")]
    [InlineData("import sys, uuid\ndef add(a, b):\n    print(uuid.uuid4().hex, uuid.uuid4())\n    sys.exit(0)")] // a made-up sentinel
    public async Task ASolutionThatExitsDuringTheTestsDoesNotPass(string solution)
    {
        var r = await CodeAnswer.RunTestsAsync(solution, "assert add(2, 3) == 5\nassert add(1, 1) == 2", Fast);
        Assert.False(r.Passed, r.Execution.Output);
    }

    [Fact]
    public async Task ASolutionPrintingSentinelLookalikesDoesNotPass()
    {
        // Whatever it prints (GUIDs in every format, words like "passed"), it cannot know the sentinel of this run.
        const string solution = "import sys, uuid\ndef add(a, b):\n    return a - b\n" +
                                "for _ in range(50):\n    u = uuid.uuid4()\n    print(u, u.hex, str(u).upper(), 'ALL TESTS PASSED')\nsys.exit(0)";
        var r = await CodeAnswer.RunTestsAsync(solution, "assert add(2, 3) == 5", Fast);
        Assert.False(r.Passed, r.Execution.Output);
    }

    [Theory]
    [InlineData("import builtins\nbuiltins.print = lambda *a, **k: None")]
    [InlineData("import sys, io\nsys.stdout = sys.stderr = io.StringIO()")]
    [InlineData("import builtins\nbuiltins.AssertionError = type('Quiet', (Exception,), {})")]
    [InlineData("import builtins\nbuiltins.exec = lambda *a, **k: None\nbuiltins.compile = lambda *a, **k: compile('pass', '<x>', 'exec')")]
    [InlineData("import sys\nsys.excepthook = lambda *a: None")]
    [InlineData("import sys\nsys.settrace(lambda *a: None)\nsys.setprofile(lambda *a: None)")]
    public async Task MonkeypatchingTheRuntimeDoesNotSkipTheTests(string patch)
    {
        var r = await CodeAnswer.RunTestsAsync("def add(a, b):\n    return a - b\n" + patch, "assert add(2, 3) == 5", Fast);
        Assert.False(r.Passed, r.Execution.Output);
        var right = await CodeAnswer.RunTestsAsync("def add(a, b):\n    return a + b\n" + patch, "assert add(2, 3) == 5", Fast);
        Assert.True(right.Passed, right.Execution.Output);
    }

    private static PythonOptions Fast => new() { Timeout = TimeSpan.FromSeconds(3) };

    [Fact]
    public async Task PotAnswerIsTheLastBlocksOutput()
    {
        var fast = new PythonOptions { Timeout = TimeSpan.FromSeconds(2) };
        var (answer, runs) = await PotAnswer.RunAsync("Step 1.\n```python\nn = 12\n```\nStep 2.\n```python\nfrom fractions import Fraction\nFraction(n, 16)\n```", fast);
        Assert.Equal("3/4", answer);                     // printed with str(), as print(...) does
        Assert.Equal(2, runs.Count);
        Assert.True(MathAnswer.AreEquivalent(answer, "\\frac{3}{4}"));
        var (failed, _) = await PotAnswer.RunAsync("```python\n1/0\n```", fast);
        Assert.Null(failed);
        var (noCode, none) = await PotAnswer.RunAsync("So the answer is 5.", fast);
        Assert.Equal("5", noCode);
        Assert.Empty(none);
    }
}
