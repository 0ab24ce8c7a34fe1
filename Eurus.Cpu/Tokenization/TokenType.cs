namespace Eurus.Cpu.Tokenization;

/// <summary>SentencePiece token types, as stored in GGUF's <c>tokenizer.ggml.token_type</c> array.</summary>
public enum TokenType
{
    /// <summary>Type not specified; llama.cpp decodes such tokens to nothing.</summary>
    Undefined = 0,
    /// <summary>An ordinary piece of text (<c>▁</c> stands for a space).</summary>
    Normal = 1,
    /// <summary>The unknown token (<c>&lt;unk&gt;</c>); decodes to nothing.</summary>
    Unknown = 2,
    /// <summary>A control token such as BOS/EOS; never produced from text, decodes to nothing.</summary>
    Control = 3,
    /// <summary>A user-defined token: split out of raw text before merging, decoded verbatim.</summary>
    UserDefined = 4,
    /// <summary>An unused slot; decodes to nothing.</summary>
    Unused = 5,
    /// <summary>A byte-fallback token <c>&lt;0xXX&gt;</c> standing for one raw UTF-8 byte.</summary>
    Byte = 6,
}
