using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace Eurus.Cpu.Bench;

/// <summary>What one invocation of a benchmark moves and computes, for the GB/s and GOP/s columns.</summary>
public interface IThroughputBenchmark
{
    /// <summary>Weight bytes read and arithmetic operations (2 per multiply-add) of one invocation.</summary>
    (double Bytes, double Ops) Work();
}

/// <summary>Adds "GB/s" (weight bytes per second) and "GOP/s" columns computed from the mean time.</summary>
public sealed class ThroughputConfig : ManualConfig
{
    public ThroughputConfig()
    {
        AddColumn(new ThroughputColumn("GB/s", w => w.Bytes), new ThroughputColumn("GOP/s", w => w.Ops));
    }

    private sealed class ThroughputColumn(string name, Func<(double Bytes, double Ops), double> pick) : IColumn
    {
        public string Id => nameof(ThroughputColumn) + name;
        public string ColumnName => name;
        public bool AlwaysShow => true;
        public ColumnCategory Category => ColumnCategory.Custom;
        public int PriorityInCategory => 0;
        public bool IsNumeric => true;
        public UnitType UnitType => UnitType.Dimensionless;
        public string Legend => name == "GB/s" ? "Weight bytes read per second (1e9)" : "Operations per second (1e9; a multiply-add is 2)";
        public bool IsAvailable(Summary summary) => true;
        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
        {
            var stats = summary[benchmarkCase]?.ResultStatistics;
            if (stats is null) return "-";
            // A fresh instance with the case's parameters says how much work one invocation is.
            var instance = Activator.CreateInstance(benchmarkCase.Descriptor.Type);
            foreach (var p in benchmarkCase.Parameters.Items)
                benchmarkCase.Descriptor.Type.GetProperty(p.Name)?.SetValue(instance, p.Value);
            if (instance is not IThroughputBenchmark t) return "-";
            return (pick(t.Work()) / stats.Mean).ToString("F1"); // per ns × 1e9 / 1e9
        }
    }
}
