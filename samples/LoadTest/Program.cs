using Eurus.LoadTest;

try
{
    var options = LoadTestOptions.Parse(args);
    var report = await LoadTestRunner.RunAsync(options, Console.Out);
    Console.WriteLine(report.Summary());
    var problems = report.Problems(options);
    foreach (var p in problems) Console.WriteLine("FAIL: " + p);
    return problems.Count == 0 ? 0 : 2;
}
catch (ArgumentException e)
{
    Console.Error.WriteLine($"eurus-loadtest: {e.Message}\n{LoadTestOptions.Usage}");
    return 1;
}
