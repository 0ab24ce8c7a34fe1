using Eurus.Cpu.Grading;

namespace Eurus.Cpu.Tests.Workflows;

public class SelfConsistencyTests
{
    [Fact]
    public void TheMajorityGroupsEquivalentAnswersAndIgnoresMissingOnes()
    {
        // 0.5, \frac{1}{2} and 1/2 are one answer (3 votes) against 2 votes for 3; nulls and blanks do not vote.
        Assert.Equal("0.5", SelfConsistency.MajorityAnswer(["3", "0.5", null, "\\frac{1}{2}", "3", " ", "1/2", null, null]));
        Assert.Null(SelfConsistency.MajorityAnswer([null, null]));
        Assert.Null(SelfConsistency.MajorityAnswer([]));
    }

    [Fact]
    public void TiesGoToTheAnswerGivenFirst()
    {
        Assert.Equal("7", SelfConsistency.MajorityAnswer(["7", "8", "8", "7"]));
        Assert.Equal("8", SelfConsistency.MajorityAnswer(["8", "7", "7", "8"]));
        Assert.Equal("2", SelfConsistency.MajorityAnswer(["2", "5", "9"]));
    }

    [Theory]
    [InlineData(4, 0, 4, 0.0)]
    [InlineData(4, 1, 4, 1.0)]
    [InlineData(4, 1, 1, 0.25)]
    [InlineData(10, 3, 1, 0.3)]
    [InlineData(5, 2, 2, 0.7)]   // 1 − C(3,2)/C(5,2) = 1 − 3/10
    [InlineData(6, 1, 3, 0.5)]   // 1 − C(5,3)/C(6,3) = 1 − 10/20
    public void PassAtKIsTheUnbiasedEstimator(int n, int c, int k, double expected) =>
        Assert.Equal(expected, SelfConsistency.PassAtK(n, c, k), 12);

    [Theory]
    [InlineData(0, 0, 1)]
    [InlineData(4, 5, 1)]
    [InlineData(4, 1, 5)]
    [InlineData(4, 1, 0)]
    public void PassAtKRefusesImpossibleCounts(int n, int c, int k) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => SelfConsistency.PassAtK(n, c, k));
}
