using Eurus.Cpu.Generation.Speculation;

namespace Eurus.Cpu.Tests.Speculative;

/// <summary>Prompt lookup's drafts (<see cref="PromptLookup"/>): the continuation of the latest earlier occurrence of the longest matching n-gram.</summary>
public class PromptLookupTests
{
    private static int[] Draft(int[] history, int length, int maxNgram = 3, int minNgram = 2)
    {
        var draft = new int[length];
        int n = new PromptLookup(maxNgram, minNgram).Draft(history, draft);
        return draft[..n];
    }

    [Fact]
    public void ContinuesTheLatestEarlierOccurrence()
    {
        // "5 6" occurs at 1 and 7: the latest, at 7, is followed by 9 10 11 12 5 6.
        int[] history = [4, 5, 6, 7, 8, 1, 2, 5, 6, 9, 10, 11, 12, 5, 6];
        Assert.Equal([9, 10, 11], Draft(history, 3));
        Assert.Equal([9, 10, 11, 12, 5, 6], Draft(history, 6));
    }

    [Fact]
    public void TheLongestNgramWins()
    {
        // "2 3" alone last occurred at 5 (followed by 8); "1 2 3" at 0 (followed by 4).
        int[] history = [1, 2, 3, 4, 9, 2, 3, 8, 7, 1, 2, 3];
        Assert.Equal([4, 9], Draft(history, 2));
        Assert.Equal([8, 7], Draft(history, 2, maxNgram: 2));
    }

    [Fact]
    public void NoMatchNoDraft()
    {
        Assert.Empty(Draft([1, 2, 3, 4, 5], 4));
        Assert.Empty(Draft([7], 4));
        Assert.Empty(Draft([], 4));
    }

    [Fact]
    public void AContinuationThatReachesTheEndRepeatsItsPeriod()
    {
        // A run of one token: the match one back leaves one token to copy; the draft repeats it.
        Assert.Equal([0, 0, 0, 0, 0, 0, 0, 0], Draft([3, 9, 0, 0, 0], 8));
        // A loop of period 3 (a b c a b c a b): continues c a b c a b c a.
        Assert.Equal([3, 1, 2, 3, 1, 2, 3, 1], Draft([7, 1, 2, 3, 1, 2, 3, 1, 2], 8));
        // A period longer than the draft is copied as it is.
        Assert.Equal([3, 4], Draft([1, 2, 3, 4, 5, 1, 2], 2));
    }
}
