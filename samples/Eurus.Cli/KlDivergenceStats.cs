using System.Globalization;

namespace Eurus.Cli;

/// <summary>
/// What llama-perplexity's <c>--kl-divergence</c> reports, accumulated per scored token: the model under test (Q)
/// against the base model's saved log-probabilities — perplexities and their ratio and difference (with uncertainties
/// from the per-token variances and covariance), KL(base ‖ Q) (mean ± its standard error, and its distribution), and how
/// often both pick the same top token.
/// </summary>
internal sealed class KlDivergenceStats
{
    private readonly List<double> _kld = [];
    private double _q, _q2, _b, _b2, _qb, _k, _k2;
    private int _n, _sameTop;

    /// <summary>Adds one scored position: both models' log-probabilities over the vocabulary and the token that followed.</summary>
    public void Add(ReadOnlySpan<float> baseLogProbs, ReadOnlySpan<float> logProbs, int next)
    {
        double kld = 0;
        int topBase = 0, top = 0;
        for (int v = 0; v < baseLogProbs.Length; v++)
        {
            double b = baseLogProbs[v];
            kld += Math.Exp(b) * (b - logProbs[v]);
            if (baseLogProbs[v] > baseLogProbs[topBase]) topBase = v;
            if (logProbs[v] > logProbs[top]) top = v;
        }
        double nq = -logProbs[next], nb = -baseLogProbs[next];
        _q += nq; _q2 += nq * nq; _b += nb; _b2 += nb * nb; _qb += nq * nb;
        _k += kld; _k2 += kld * kld;
        _kld.Add(kld);
        if (top == topBase) _sameTop++;
        _n++;
    }

    /// <summary>Scored tokens so far.</summary>
    public int Count => _n;

    /// <summary>Mean KL(base ‖ Q) and its standard error.</summary>
    public (double Mean, double Error) Kld => MeanAndError(_k, _k2);

    /// <summary>Fraction of positions where both models' top token is the same, and its standard error.</summary>
    public (double Fraction, double Error) SameTop
    {
        get
        {
            double f = (double)_sameTop / _n;
            return (f, _n > 1 ? Math.Sqrt(f * (1 - f) / (_n - 1)) : 0);
        }
    }

    /// <summary>PPL(Q) − PPL(base) and its standard error (first-order, with the covariance of the two NLLs).</summary>
    public (double Delta, double Error) PplDifference
    {
        get
        {
            var (mq, vq, mb, vb, cov) = Moments();
            double pq = Math.Exp(mq), pb = Math.Exp(mb);
            return (pq - pb, Math.Sqrt(Math.Max(0, pq * pq * vq + pb * pb * vb - 2 * pq * pb * cov)));
        }
    }

    /// <summary>Means of the two NLLs, the variances of those means and their covariance.</summary>
    private (double Mq, double Vq, double Mb, double Vb, double Cov) Moments()
    {
        double mq = _q / _n, mb = _b / _n, d = Math.Max(1, _n - 1);
        return (mq, Math.Max(0, _q2 / _n - mq * mq) / d, mb, Math.Max(0, _b2 / _n - mb * mb) / d, (_qb / _n - mq * mb) / d);
    }

    private (double Mean, double Error) MeanAndError(double sum, double sum2)
    {
        double m = sum / _n;
        return (m, _n > 1 ? Math.Sqrt(Math.Max(0, sum2 / _n - m * m) / (_n - 1)) : 0);
    }

    private double Quantile(double q)
    {
        var sorted = _kld.Order().ToArray();
        return sorted[(int)Math.Min(sorted.Length - 1, Math.Round(q * (sorted.Length - 1)))];
    }

    /// <summary>Writes the summary as llama-perplexity lays it out.</summary>
    public void Print(TextWriter w)
    {
        if (_n == 0) return;
        var (mq, vq, mb, vb, cov) = Moments();
        double pq = Math.Exp(mq), pb = Math.Exp(mb), lnRatio = mq - mb, lnErr = Math.Sqrt(Math.Max(0, vq + vb - 2 * cov));
        double cor = vq > 0 && vb > 0 ? cov / Math.Sqrt(vq * vb) : 1;
        var (diff, diffErr) = PplDifference;
        var (kld, kldErr) = Kld;
        var (same, sameErr) = SameTop;
        var c = CultureInfo.InvariantCulture;
        w.WriteLine("====== Perplexity statistics ======");
        w.WriteLine(string.Create(c, $"Mean PPL(Q)                   : {pq,10:F6} ± {pq * Math.Sqrt(vq),10:F6}"));
        w.WriteLine(string.Create(c, $"Mean PPL(base)                : {pb,10:F6} ± {pb * Math.Sqrt(vb),10:F6}"));
        w.WriteLine(string.Create(c, $"Cor(ln(PPL(Q)), ln(PPL(base))): {100 * cor,6:F2}%"));
        w.WriteLine(string.Create(c, $"Mean ln(PPL(Q)/PPL(base))     : {lnRatio,10:F6} ± {lnErr,10:F6}"));
        w.WriteLine(string.Create(c, $"Mean PPL(Q)/PPL(base)         : {Math.Exp(lnRatio),10:F6} ± {Math.Exp(lnRatio) * lnErr,10:F6}"));
        w.WriteLine(string.Create(c, $"Mean PPL(Q)-PPL(base)         : {diff,10:F6} ± {diffErr,10:F6}"));
        w.WriteLine();
        w.WriteLine("====== KL divergence statistics ======");
        w.WriteLine(string.Create(c, $"Mean    KLD: {kld,10:F6} ± {kldErr,10:F6}"));
        w.WriteLine(string.Create(c, $"Maximum KLD: {Quantile(1),10:F6}"));
        w.WriteLine(string.Create(c, $"99.0%   KLD: {Quantile(0.99),10:F6}"));
        w.WriteLine(string.Create(c, $"Median  KLD: {Quantile(0.5),10:F6}"));
        w.WriteLine(string.Create(c, $"Minimum KLD: {Quantile(0),10:F6}"));
        w.WriteLine();
        w.WriteLine("====== Token probability statistics ======");
        w.WriteLine(string.Create(c, $"Same top p: {100 * same,6:F3} ± {100 * sameErr,5:F3} %"));
        w.WriteLine(string.Create(c, $"({_n} tokens)"));
    }
}
