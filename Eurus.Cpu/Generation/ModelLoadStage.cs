namespace Eurus.Cpu.Generation;

/// <summary>What <see cref="EurusModel.LoadAsync"/> is doing (see <see cref="ModelLoadProgress"/>).</summary>
public enum ModelLoadStage
{
    /// <summary>Converting a Hugging Face model folder's safetensors weights to a temporary GGUF file.</summary>
    Converting,
    /// <summary>Mapping the GGUF file, validating its header and tensors, building the tokenizer.</summary>
    Mapping,
    /// <summary>Repacking the weight matrices into the layouts the SIMD kernels read (one report per matrix).</summary>
    Repacking,
    /// <summary>The model is loaded (the last report, with <see cref="ModelLoadProgress.Fraction"/> = 1).</summary>
    Done,
}
