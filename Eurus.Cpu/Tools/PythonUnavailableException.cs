namespace Eurus.Cpu.Tools;

/// <summary>The Python interpreter could not be started (not installed, or not at the configured path).</summary>
public sealed class PythonUnavailableException(string message, Exception? inner = null) : InvalidOperationException(message, inner);
