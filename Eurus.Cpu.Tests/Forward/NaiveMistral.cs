using Eurus.Cpu.Gguf;
using Eurus.Cpu.Quantization;

namespace Eurus.Cpu.Tests.Forward;

/// <summary>
/// A deliberately plain Mistral forward pass written for the tests (all weights dequantized to float, full
/// recomputation, double accumulators), with an optional sliding window. It shares no code with the engine's
/// forward pass, so it can check the parts llama.cpp cannot (the window).
/// </summary>
internal sealed class NaiveMistral
{
    private readonly int _dim, _layers, _heads, _kvHeads, _hd, _ffn, _vocab;
    private readonly float _eps, _theta;
    private readonly Dictionary<string, float[]> _w = [];

    public NaiveMistral(string path)
    {
        using var f = GgufFile.Open(path);
        var m = f.Metadata;
        _dim = (int)m.GetUInt32("llama.embedding_length");
        _layers = (int)m.GetUInt32("llama.block_count");
        _heads = (int)m.GetUInt32("llama.attention.head_count");
        _kvHeads = (int)m.GetUInt32("llama.attention.head_count_kv");
        _ffn = (int)m.GetUInt32("llama.feed_forward_length");
        _eps = m.GetFloat32("llama.attention.layer_norm_rms_epsilon");
        _theta = m.GetFloat32("llama.rope.freq_base");
        _hd = _dim / _heads;
        foreach (var t in f.Tensors)
        {
            var data = new float[t.ElementCount];
            for (long r = 0; r < t.RowCount; r++)
                RowCodec.Decode(t.Type, f.GetRowData(t, r), data.AsSpan((int)(r * t.RowLength), (int)t.RowLength));
            _w[t.Name] = data;
        }
        _vocab = _w["token_embd.weight"].Length / _dim;
    }

    /// <summary>Logits at every position of <paramref name="tokens"/> (window null: full causal attention).</summary>
    public float[][] Logits(int[] tokens, int? window)
    {
        int n = tokens.Length, kvDim = _kvHeads * _hd;
        var x = new float[n][];
        for (int t = 0; t < n; t++) x[t] = _w["token_embd.weight"].AsSpan(tokens[t] * _dim, _dim).ToArray();
        for (int l = 0; l < _layers; l++)
        {
            string p = $"blk.{l}.";
            var q = new float[n][]; var k = new float[n][]; var v = new float[n][];
            for (int t = 0; t < n; t++)
            {
                var h = Norm(x[t], _w[p + "attn_norm.weight"]);
                q[t] = Rope(MatVec(_w[p + "attn_q.weight"], h, _dim), t);
                k[t] = Rope(MatVec(_w[p + "attn_k.weight"], h, kvDim), t);
                v[t] = MatVec(_w[p + "attn_v.weight"], h, kvDim);
            }
            for (int t = 0; t < n; t++)
            {
                var att = new float[_dim];
                for (int hh = 0; hh < _heads; hh++)
                {
                    int kvh = hh / (_heads / _kvHeads);
                    int first = window is int w ? Math.Max(0, t - w + 1) : 0;
                    var s = new double[t - first + 1];
                    for (int j = first; j <= t; j++)
                    {
                        double d = 0;
                        for (int i = 0; i < _hd; i++) d += q[t][hh * _hd + i] * (double)k[j][kvh * _hd + i];
                        s[j - first] = d / Math.Sqrt(_hd);
                    }
                    double max = s.Max(), sum = s.Sum(z => Math.Exp(z - max));
                    for (int j = first; j <= t; j++)
                    {
                        double pj = Math.Exp(s[j - first] - max) / sum;
                        for (int i = 0; i < _hd; i++) att[hh * _hd + i] += (float)(pj * v[j][kvh * _hd + i]);
                    }
                }
                var o = MatVec(_w[p + "attn_output.weight"], att, _dim);
                for (int i = 0; i < _dim; i++) x[t][i] += o[i];
                var h2 = Norm(x[t], _w[p + "ffn_norm.weight"]);
                var g = MatVec(_w[p + "ffn_gate.weight"], h2, _ffn);
                var u = MatVec(_w[p + "ffn_up.weight"], h2, _ffn);
                for (int i = 0; i < _ffn; i++) g[i] = (float)(g[i] / (1 + Math.Exp(-g[i])) * u[i]);
                var dn = MatVec(_w[p + "ffn_down.weight"], g, _dim);
                for (int i = 0; i < _dim; i++) x[t][i] += dn[i];
            }
        }
        var outW = _w.TryGetValue("output.weight", out var ow) ? ow : _w["token_embd.weight"];
        return x.Select(xt => MatVec(outW, Norm(xt, _w["output_norm.weight"]), _vocab)).ToArray();
    }

    private float[] Norm(float[] x, float[] w)
    {
        double ss = x.Sum(z => (double)z * z) / x.Length;
        double s = 1 / Math.Sqrt(ss + _eps);
        return x.Select((z, i) => (float)(z * s) * w[i]).ToArray();
    }

    private static float[] MatVec(float[] w, float[] x, int rows)
    {
        int cols = x.Length;
        var y = new float[rows];
        for (int r = 0; r < rows; r++)
        {
            double d = 0;
            for (int c = 0; c < cols; c++) d += w[r * cols + c] * (double)x[c];
            y[r] = (float)d;
        }
        return y;
    }

    // GGUF layout: adjacent pairs (2i, 2i+1) rotate by pos · θ^(−2i/head_dim).
    private float[] Rope(float[] v, int pos)
    {
        for (int h = 0; h < v.Length / _hd; h++)
            for (int i = 0; i < _hd / 2; i++)
            {
                double a = pos * Math.Pow(_theta, -2.0 * i / _hd);
                int o = h * _hd + 2 * i;
                double x0 = v[o], x1 = v[o + 1];
                v[o] = (float)(x0 * Math.Cos(a) - x1 * Math.Sin(a));
                v[o + 1] = (float)(x0 * Math.Sin(a) + x1 * Math.Cos(a));
            }
        return v;
    }
}
