using Eurus.Cpu.Generation;

namespace Eurus.Cpu.Tests.Generation;

public class StopStringMatcherTests
{
    [Fact]
    public void HoldsBackPossiblePrefixesAndCutsAtTheStop()
    {
        var m = new StopStringMatcher(["\nObservation:", "###"]);
        Assert.Equal(("Hello", false), m.Push("Hello"));
        Assert.Equal((" world", false), m.Push(" world\nObs"));
        Assert.Equal(("", true), m.Push("ervation: x"));
    }

    [Fact]
    public void ReleasesHeldTextWhenItIsNotAStop()
    {
        var m = new StopStringMatcher(["###"]);
        Assert.Equal(("a", false), m.Push("a##"));
        Assert.Equal(("##b", false), m.Push("b"));
        Assert.Equal("#", m.Flush("#"));
    }

    [Fact]
    public void NoStopsPassesEverythingThrough()
    {
        var m = new StopStringMatcher([]);
        Assert.Equal(("abc", false), m.Push("abc"));
        Assert.Equal("", m.Flush(""));
    }
}
