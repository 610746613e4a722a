namespace MnasNet.Audit.Tests;

public sealed class PureTests
{
    [Fact]
    public void Kendall_tau_of_known_orders()
    {
        Assert.Equal(1.0, WhatIf.KendallTau([1, 2, 3, 4], [10, 20, 30, 40]));
        Assert.Equal(-1.0, WhatIf.KendallTau([1, 2, 3, 4], [4, 3, 2, 1]));
        Assert.Equal(1.0 / 3, WhatIf.KendallTau([1, 2, 3], [1, 3, 2]), 15);
        // τ-b with a tie in y: C = 2, D = 0, ties in y = 1 → 2 / sqrt(3 · 2).
        Assert.Equal(2 / Math.Sqrt(6), WhatIf.KendallTau([1, 2, 3], [1, 2, 2]), 15);
        Assert.True(double.IsNaN(WhatIf.KendallTau([1, 2], [5, 5])));
    }

    [Fact]
    public void Gaps_in_sequence_numbers()
    {
        Assert.Empty(SequenceGaps.Find([1, 2, 3]));
        Assert.Equal([new SequenceGap(3, 3)], SequenceGaps.Find([1, 2, 4, 5]));
        Assert.Equal([new SequenceGap(1, 1), new SequenceGap(4, 6)], SequenceGaps.Find([2, 3, 7]));
    }

    [Fact]
    public void What_if_settings_parse_and_resolve()
    {
        var s = WhatIfSettings.Parse(["reward=hard", "target-ms=50"]);
        Assert.Equal((0.0, -1.0, 50.0), s.Resolve(-0.07, -0.07, 80));
        Assert.Equal((-0.07, -0.5, 80.0), WhatIfSettings.Parse(["beta=-0.5"]).Resolve(-0.07, -0.07, 80));
        Assert.Throws<AuditInputException>(() => WhatIfSettings.Parse(["alpha=0.5"]));
        Assert.Throws<AuditInputException>(() => WhatIfSettings.Parse(["target-ms=-1"]));
        Assert.Throws<AuditInputException>(() => WhatIfSettings.Parse(["reward=medium"]));
        Assert.Throws<AuditInputException>(() => WhatIfSettings.Parse(["noequals"]));
    }
}
