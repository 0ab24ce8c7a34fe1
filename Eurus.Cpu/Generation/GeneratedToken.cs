namespace Eurus.Cpu.Generation;

/// <summary>One generated token and the text it completed (empty while a multi-byte character is incomplete).</summary>
/// <param name="Id">Token id.</param>
/// <param name="Text">Text emitted for this token.</param>
public readonly record struct GeneratedToken(int Id, string Text);
