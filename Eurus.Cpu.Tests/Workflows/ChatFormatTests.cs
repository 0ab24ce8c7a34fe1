using Eurus.Cpu.Generation;
using Eurus.Cpu.Prompts;
using Eurus.Cpu.Tests.Oracle;

namespace Eurus.Cpu.Tests.Workflows;

public class ChatFormatTests
{
    private static readonly Lazy<EurusModel> Demo = new(() => EurusModel.Load(TestPaths.Q8, new ModelOptions { Threads = 1, ContextLength = 64 }));

    private static readonly ChatTurn[] TwoTurns =
    [
        ChatTurn.User("Who made the light?"),
        ChatTurn.Assistant(" God made it."),
        ChatTurn.User("And the dark?"),
    ];

    [Fact]
    public void RendersTheHuggingFaceTemplateText()
    {
        Assert.Equal("<s>[INST] Who made the light? [/INST] God made it.</s>[INST] And the dark? [/INST]", MistralChatFormat.Render(TwoTurns));
        Assert.Equal("<s>[INST] hi [/INST]", MistralChatFormat.Render([ChatTurn.User("hi")]));
        Assert.Equal("<s>[INST] hi [/INST]ok</s>", MistralChatFormat.Render([ChatTurn.User("hi"), ChatTurn.Assistant("ok")]));
    }

    [Fact]
    public void IdsEqualLlamaCppTokenizingTheRenderedTemplateWithSpecialTokens()
    {
        var tk = Demo.Value.Tokenizer;
        var ours = MistralChatFormat.Encode(tk, TwoTurns);
        // llama.cpp parses <s>/</s> as BOS/EOS and puts a space before the text after each of them, as HF's tokenizer does.
        var llama = LlamaOracle.TokenizeSpecial(TestPaths.Q8, MistralChatFormat.Render(TwoTurns));
        Assert.Equal(llama, ours);
        Assert.Equal(1, ours[0]);
        Assert.Single(ours, 1);
        Assert.Single(ours, 2);
    }

    [Fact]
    public void PinnedIdsForAShortConversation()
    {
        var ids = MistralChatFormat.Encode(Demo.Value.Tokenizer, [ChatTurn.User("hi"), ChatTurn.Assistant("ok"), ChatTurn.User("go")]);
        // BOS, "▁[INST] hi [/INST]ok" (space-prefixed), EOS, "▁[INST] go [/INST]".
        Assert.Equal(PinnedShortConversation, ids);
        Assert.Equal(LlamaOracle.TokenizeSpecial(TestPaths.Q8, "<s>[INST] hi [/INST]ok</s>[INST] go [/INST]"), ids);
    }

    // Written down from a run and checked against llama.cpp (IdsEqualLlamaCpp… above covers the same rule).
    internal static readonly int[] PinnedShortConversation =
        [1, 4034, 94, 4060, 4081, 4070, 4066, 96, 265, 4042, 4034, 94, 50, 4060, 4081, 4070, 4066, 96, 490, 2,
         4034, 94, 4060, 4081, 4070, 4066, 96, 413, 4034, 94, 50, 4060, 4081, 4070, 4066, 96];

    [Fact]
    public void SpecialTokenTextTypedByTheUserStaysText()
    {
        var tk = Demo.Value.Tokenizer;
        var ids = MistralChatFormat.Encode(tk, [ChatTurn.User("a </s> b <s>")]);
        Assert.Equal(1, ids.Count(i => i == tk.BosId));
        Assert.DoesNotContain(tk.EosId, ids);
        Assert.Equal(tk.Encode("[INST] a </s> b <s> [/INST]", addBos: true), ids);
    }

    [Fact]
    public void SystemRoleIsRejectedUnlessFoldingIsOptedIn()
    {
        var tk = Demo.Value.Tokenizer;
        ChatTurn[] withSystem = [ChatTurn.System("Be brief."), ChatTurn.User("hi")];
        var e = Assert.Throws<ArgumentException>(() => MistralChatFormat.Encode(tk, withSystem));
        Assert.Contains("no system role", e.Message);
        var folded = MistralChatFormat.Encode(tk, withSystem, new MistralChatOptions { FoldSystemIntoFirstUser = true });
        Assert.Equal(MistralChatFormat.Encode(tk, [ChatTurn.User("Be brief.\n\nhi")]), folded);
        Assert.Equal("<s>[INST] Be brief.\n\nhi [/INST]", MistralChatFormat.Render(withSystem, new MistralChatOptions { FoldSystemIntoFirstUser = true }));
        // Only a leading system message can be folded.
        Assert.Throws<ArgumentException>(() => MistralChatFormat.Encode(tk, [ChatTurn.User("hi"), ChatTurn.System("x")], new MistralChatOptions { FoldSystemIntoFirstUser = true }));
    }

    [Fact]
    public void RolesMustAlternateStartingWithTheUser()
    {
        var tk = Demo.Value.Tokenizer;
        Assert.Throws<ArgumentException>(() => MistralChatFormat.Encode(tk, []));
        Assert.Throws<ArgumentException>(() => MistralChatFormat.Encode(tk, [ChatTurn.Assistant("x")]));
        Assert.Throws<ArgumentException>(() => MistralChatFormat.Encode(tk, [ChatTurn.User("a"), ChatTurn.User("b")]));
        Assert.Throws<ArgumentException>(() => MistralChatFormat.Encode(tk, [ChatTurn.User(null!)]));
    }

    [Fact]
    public void ModelCardTemplatesAreExact()
    {
        Assert.Equal("[INST] Write Python code to solve the task:\nReverse a string. [/INST]",
            EurusPrompts.Prompt(EurusPrompts.Coding("Reverse a string.")));
        Assert.Equal("[INST] Solve the following math problem step-by-step.\nSimplify your answer as much as possible. " +
                     "Present your final answer as \\boxed{Your Answer}.\nWhat is 2+3? [/INST]",
            EurusPrompts.Prompt(EurusPrompts.MathCot("What is 2+3?")));
        Assert.Equal("[INST] Tool available:\n[1] Python interpreter\nWhen you send a message containing Python code to python, " +
                     "it will be executed in a stateful Jupyter notebook environment.\nSolve the following math problem step-by-step.\n" +
                     "Simplify your answer as much as possible.\nWhat is 2+3? [/INST]",
            EurusPrompts.Prompt(EurusPrompts.MathPot("What is 2+3?")));
        Assert.Equal("Tool available:\n[1] Python interpreter\nWhen you send a message containing Python code to python, " +
                     "it will be executed in a stateful Jupyter notebook environment. Present code in ```python```\n" +
                     "Solve the following math problem step-by-step.\nSimplify your answer as much as possible.\nQ",
            EurusPrompts.MathPotEvaluation("Q"));
        Assert.Single(EurusPrompts.MathCot("x").Split('\\')[1..]); // one backslash, as the model saw it
    }

    [Fact]
    public void ToolResultTurnsAreExact()
    {
        Assert.Equal("Observation:\n42\nYou have 4 steps left and 2 chances to propose solution left.", EurusPrompts.Observation("42", 4, 2));
        Assert.Equal("Observation:\n[Executed Successfully with No Output]\nYou have 1 steps left and 2 chances to propose solution left.", EurusPrompts.Observation("", 1, 2));
        Assert.Equal("Observation:\n" + new string('x', 2000) + "\nYou have 3 steps left and 1 chances to propose solution left.", EurusPrompts.Observation(new string('x', 5000), 3, 1));
        Assert.Equal("Out: 7", EurusPrompts.Out("7"));
        Assert.Equal(["\nObservation:", "\nExpert feedback:", "\nTask:", "\n---", "\nHuman:"], EurusPrompts.ToolStopStrings);
    }
}
