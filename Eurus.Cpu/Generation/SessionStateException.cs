namespace Eurus.Cpu.Generation;

/// <summary>
/// A session state given to <see cref="InferenceSession.LoadState"/> cannot be restored: it is not a Eurus.Cpu session
/// state, is of another format version, was saved from another model or with other options (KV cache type, context,
/// sliding window), or is truncated or corrupted. The session is left empty.
/// </summary>
public sealed class SessionStateException(string message, Exception? inner = null) : FormatException(message, inner);
