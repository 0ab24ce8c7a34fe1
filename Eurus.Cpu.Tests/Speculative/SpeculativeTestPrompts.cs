using Eurus.Cpu.Generation;

namespace Eurus.Cpu.Tests.Speculative;

/// <summary>Prompts for the speculative decoding tests, and a helper that collects a generation's tokens.</summary>
internal static class SpeculativeTestPrompts
{
    /// <summary>Texts the demo model (trained on the KJV) continues: quoted verses it repeats, and ordinary openings.</summary>
    public static readonly string[] Texts =
    [
        "In the beginning God created the heaven and the earth. And the earth was without form, and void. In the beginning God",
        "The LORD is my shepherd; I shall not want. He maketh me to lie down in green pastures. The LORD is my shepherd;",
        "And God said, Let there be light: and there was light. And God said, Let",
        "Blessed are the poor in spirit: for theirs is the kingdom of heaven. Blessed are the meek: for they shall inherit the earth. Blessed are",
        "And it came to pass",
        "Thou shalt not",
        "For God so loved the world, that he gave his only begotten Son. For God so loved",
        "And the LORD spake unto Moses, saying, Speak unto the children of Israel. And the LORD spake unto",
    ];

    /// <summary>
    /// <see cref="Texts"/> as ids, then <paramref name="randomCount"/> seeded random-id prompts with a repeated
    /// stretch (drafts for the lookup, and arbitrary logits with near-ties).
    /// </summary>
    public static List<int[]> Ids(EurusModel model, int randomCount)
    {
        var prompts = Texts.Select(t => model.Tokenizer.Encode(t)).ToList();
        var rng = new Random(11);
        int vocab = model.Config.Vocab;
        for (int i = 0; i < randomCount; i++)
        {
            var part = Enumerable.Range(0, 6 + i % 5).Select(_ => rng.Next(3, vocab)).ToArray();
            prompts.Add([1, .. part, .. Enumerable.Range(0, 3).Select(_ => rng.Next(3, vocab)), .. part[..(2 + i % 3)]]);
        }
        return prompts;
    }

    public static async Task<List<int>> Collect(IAsyncEnumerable<GeneratedToken> stream)
    {
        var ids = new List<int>();
        await foreach (var t in stream)
            if (t.Id >= 0) ids.Add(t.Id);
        return ids;
    }
}
