namespace Eurus.Cpu.Model;

/// <summary>Element type of the key/value cache.</summary>
public enum KvCacheType
{
    /// <summary>32-bit floats (default; exact).</summary>
    F32,
    /// <summary>16-bit floats (half the memory).</summary>
    F16,
}
