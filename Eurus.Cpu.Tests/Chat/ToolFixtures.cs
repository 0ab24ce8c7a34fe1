using System.ComponentModel;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Eurus.Cpu.Tests.Chat;

/// <summary>The tools of the function-calling tests (<see cref="ToolCallingTests"/>, <see cref="ParallelToolCallTests"/>).</summary>
internal static class ToolFixtures
{
    // Small schemas: the demo model's context is short, and the preamble describes each tool with its schema.
    // Bounded strings: the tiny model never closes an unbounded string by itself.
    public const string VerseSchema = """
        {"type":"object","properties":{"book":{"enum":["Job","Psalms"]},"note":{"type":["string","null"],"maxLength":4}},"required":["book"]}
        """;

    /// <summary>A declaration-only tool (no function to invoke) with <see cref="VerseSchema"/>.</summary>
    public static AIFunctionDeclaration FindVerse() =>
        AIFunctionFactory.CreateDeclaration("verse", null, JsonDocument.Parse(VerseSchema).RootElement);

    /// <summary>An invocable tool taking one integer; <paramref name="onCall"/> sees each call's argument.</summary>
    public static AIFunction CountPsalms(Action<int>? onCall = null) => AIFunctionFactory.Create(
        ([Description("psalm")] int n) => { onCall?.Invoke(n); return $"Psalm {n} has some verses"; },
        "count", "Counts verses.");
}
