using System.Buffers.Binary;
using System.Text;

namespace Eurus.Cpu.Fuzzing;

/// <summary>The seed corpora committed under fuzz/corpus (regenerate with <c>Eurus.Cpu.Fuzz seeds fuzz/corpus</c>).</summary>
internal static class Seeds
{
    public static IEnumerable<(string Harness, string File, byte[] Bytes)> All()
    {
        foreach (var (name, bytes) in TinyModels.Seeds()) yield return ("gguf", name, bytes);
        foreach (var (name, bytes) in Safetensors()) yield return ("safetensors", name, bytes);
        foreach (var (name, bytes) in SentencePiece()) yield return ("sentencepiece", name, bytes);
        foreach (var (name, text) in ServerRequests()) yield return ("server-request", name, Encoding.UTF8.GetBytes(text));
    }

    // ---- safetensors: an 8-byte header length, a JSON header (padded with spaces to 8 bytes), the data.

    private static IEnumerable<(string, byte[])> Safetensors()
    {
        yield return ("f32-f16-bf16.safetensors", SafetensorsFile(
            ("a", "F32", [2, 3]), ("b", "F16", [4]), ("c", "BF16", [])) );
        yield return ("metadata-zero-size.safetensors", SafetensorsFile(
            ("empty", "F32", [0, 5]), ("model.layers.0.self_attn.q_proj.weight", "BF16", [4, 4]), ("__metadata__", "format:pt", [])));
        yield return ("hf-names.safetensors", SafetensorsFile(
            ("model.embed_tokens.weight", "F16", [8, 4]), ("model.norm.weight", "F32", [4]), ("lm_head.weight", "F16", [8, 4]),
            ("model.layers.0.mlp.down_proj.weight", "BF16", [4, 2, 2])));
    }

    private static byte[] SafetensorsFile(params (string Name, string DType, long[] Shape)[] tensors)
    {
        var json = new StringBuilder("{");
        var data = new List<byte>();
        var rng = new Random(5);
        foreach (var (name, dtype, shape) in tensors)
        {
            if (json.Length > 1) json.Append(',');
            if (name == "__metadata__")
            {
                var kv = dtype.Split(':');
                json.Append($"\"__metadata__\":{{\"{kv[0]}\":\"{kv[1]}\"}}");
                continue;
            }
            int size = dtype == "F32" ? 4 : 2;
            long bytes = shape.Aggregate(1L, (a, d) => a * d) * size;
            json.Append($"\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":[{string.Join(',', shape)}],\"data_offsets\":[{data.Count},{data.Count + bytes}]}}");
            for (long i = 0; i < bytes / size; i++)
            {
                float v = rng.NextSingle() * 2 - 1;
                if (size == 4) data.AddRange(BitConverter.GetBytes(v));
                else if (dtype == "F16") data.AddRange(BitConverter.GetBytes((Half)v));
                else data.AddRange(BitConverter.GetBytes((ushort)(BitConverter.SingleToUInt32Bits(v) >> 16)));
            }
        }
        json.Append('}');
        while ((json.Length + 8) % 8 != 0) json.Append(' ');
        var header = Encoding.UTF8.GetBytes(json.ToString());
        var file = new byte[8 + header.Length + data.Count];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)header.Length);
        header.CopyTo(file, 8);
        data.CopyTo(file, 8 + header.Length);
        return file;
    }

    // ---- SentencePiece ModelProto: 1 pieces {1 piece, 2 score, 3 type}, 2 trainer_spec {3 model_type, 35 byte_fallback,
    // 40 unk_id, 41 bos_id, 42 eos_id, 43 pad_id}, 3 normalizer_spec {3 add_dummy_prefix}.

    private static IEnumerable<(string, byte[])> SentencePiece()
    {
        (string, float, int)[] basic =
        [
            ("<unk>", 0, 2), ("<s>", 0, 3), ("</s>", 0, 3), ("<0x41>", 0, 6), ("<0xC3>", 0, 6), ("[X]", 0, 4),
            ("▁", -1, 1), ("▁t", -2, 1), ("he", -3, 1), ("▁the", -4, 1), ("l", -5, 1), ("o", -6, 1), ("▁w", -7, 1), ("e", -8, 1), ("h", -9, 1),
        ];
        yield return ("bpe-byte-fallback.model", Model(basic, modelType: 2, byteFallback: true, unk: 0, bos: 1, eos: 2, pad: -1, dummyPrefix: true));
        yield return ("unigram-pad-no-prefix.model", Model(
            [("<pad>", 0, 3), ("<unk>", 0, 2), ("<s>", 0, 3), ("</s>", 0, 3), ("▁hello", -1.5f, 1), ("▁", -2, 1), ("ö", -3, 1), ("x", -4, 5)],
            modelType: 1, byteFallback: false, unk: 1, bos: 2, eos: 3, pad: 0, dummyPrefix: false));
    }

    private static byte[] Model((string Piece, float Score, int Type)[] pieces, int modelType, bool byteFallback, int unk, int bos, int eos, int pad, bool dummyPrefix)
    {
        var m = new List<byte>();
        foreach (var (piece, score, type) in pieces)
        {
            var p = new List<byte>();
            Bytes(p, 1, Encoding.UTF8.GetBytes(piece));
            Tag(p, 2, 5); p.AddRange(BitConverter.GetBytes(score));
            Tag(p, 3, 0); Varint(p, (ulong)type);
            Bytes(m, 1, [.. p]);
        }
        var t = new List<byte>();
        Tag(t, 3, 0); Varint(t, (ulong)modelType);
        Tag(t, 35, 0); Varint(t, byteFallback ? 1UL : 0UL);
        foreach (var (field, v) in new[] { (40, unk), (41, bos), (42, eos), (43, pad) }) { Tag(t, field, 0); Varint(t, unchecked((ulong)(long)v)); }
        Bytes(m, 2, [.. t]);
        var n = new List<byte>();
        Bytes(n, 1, "identity"u8.ToArray());
        Tag(n, 3, 0); Varint(n, dummyPrefix ? 1UL : 0UL);
        Bytes(m, 3, [.. n]);
        return [.. m];
    }

    private static void Tag(List<byte> o, int field, int wire) => Varint(o, (ulong)(field << 3 | wire));

    private static void Varint(List<byte> o, ulong v)
    {
        while (v >= 0x80) { o.Add((byte)(v | 0x80)); v >>= 7; }
        o.Add((byte)v);
    }

    private static void Bytes(List<byte> o, int field, byte[] b)
    {
        Tag(o, field, 2);
        Varint(o, (ulong)b.Length);
        o.AddRange(b);
    }

    // ---- Server requests: PATH\nBODY.

    private static IEnumerable<(string, string)> ServerRequests()
    {
        yield return ("chat.txt", """
            /v1/chat/completions
            {"model":"tiny","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"the cab"}],"max_tokens":3,"temperature":0.7,"top_p":0.9,"top_k":5,"seed":42,"stop":["he","\n"]}
            """);
        yield return ("chat-stream-parts.txt", """
            /v1/chat/completions
            {"messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},{"role":"assistant","content":"t"},{"role":"user","content":null}],"stream":true,"stream_options":{"include_usage":true},"max_completion_tokens":2,"min_p":0.1,"repeat_penalty":1.1,"frequency_penalty":0.5,"presence_penalty":-0.5,"n":1,"ignore_eos":true,"tools":[]}
            """);
        yield return ("completion-string.txt", """
            /v1/completions
            {"prompt":"the cab","max_tokens":4,"temperature":0,"stop":"a"}
            """);
        yield return ("completion-ids-stream.txt", """
            /v1/completions
            {"prompt":[1,15,6],"stream":true,"max_tokens":2,"seed":-1}
            """);
        yield return ("completion-array.txt", """
            /v1/completions
            {"prompt":["hé [X]"],"max_tokens":1,"top_k":0}
            """);
        yield return ("tokenize.txt", """
            /tokenize
            {"content":"the cab [X]","add_special":true}
            """);
        yield return ("detokenize.txt", """
            /detokenize
            {"tokens":[1,15,12,3,4]}
            """);
    }
}
