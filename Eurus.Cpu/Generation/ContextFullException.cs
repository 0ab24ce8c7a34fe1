namespace Eurus.Cpu.Generation;

/// <summary>The tokens asked for do not fit in the session's context. The session is left unchanged.</summary>
public sealed class ContextFullException(string message) : InvalidOperationException(message);
