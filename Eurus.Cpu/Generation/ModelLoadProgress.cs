namespace Eurus.Cpu.Generation;

/// <summary>
/// One progress report of <see cref="EurusModel.LoadAsync"/>: the stage, how far that stage is, and how far the whole
/// load is. <see cref="Fraction"/> never goes down and the last report is <see cref="ModelLoadStage.Done"/> at 1.
/// </summary>
/// <param name="Stage">What the load is doing.</param>
/// <param name="StageFraction">How far <paramref name="Stage"/> is, 0 to 1.</param>
/// <param name="Fraction">How far the whole load is, 0 to 1 (stages weighted by their usual share of the time).</param>
public readonly record struct ModelLoadProgress(ModelLoadStage Stage, double StageFraction, double Fraction);
