namespace Eurus.Cpu.Generation;

/// <summary>Every slot of a <see cref="BatchedGenerator"/> is busy and its waiting queue is full; try again later.</summary>
public sealed class QueueFullException(string message) : InvalidOperationException(message);
