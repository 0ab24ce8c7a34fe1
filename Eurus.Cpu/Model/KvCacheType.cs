namespace Eurus.Cpu.Model;

/// <summary>Element type of the key/value cache.</summary>
public enum KvCacheType
{
    /// <summary>32-bit floats (twice the memory of F16; keys and values stored as computed).</summary>
    F32,
    /// <summary>16-bit floats (the default, as llama.cpp's): keys and values rounded to half precision.</summary>
    F16,
}
