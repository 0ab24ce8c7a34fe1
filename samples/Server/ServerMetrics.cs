using Eurus.Cpu.Generation;
using Prometheus;

namespace Eurus.Server;

/// <summary>
/// The server's Prometheus metrics (<c>GET /metrics</c>, text format), in a registry of its own (one per server, so
/// servers in one process do not mix). Tokens per second are rates of the token counters:
/// <c>rate(eurus_generated_tokens_total[1m])</c>. Gauges are read from the generator at each scrape.
/// </summary>
internal sealed class ServerMetrics
{
    public CollectorRegistry Registry { get; } = Metrics.NewCustomRegistry();

    public Counter PromptTokens { get; }
    public Counter CachedPromptTokens { get; }
    public Counter GeneratedTokens { get; }
    public Counter PromptSeconds { get; }
    public Counter DecodeSeconds { get; }
    public Counter Requests { get; }
    public Histogram RequestSeconds { get; }
    public Histogram FirstTokenSeconds { get; }

    public ServerMetrics(BatchedGenerator generator)
    {
        var f = Metrics.WithCustomRegistry(Registry);
        PromptTokens = f.CreateCounter("eurus_prompt_tokens_total", "Prompt tokens evaluated (not counting those reused from the prompt cache).");
        CachedPromptTokens = f.CreateCounter("eurus_prompt_tokens_cached_total", "Prompt tokens reused from the prompt cache instead of evaluated.");
        GeneratedTokens = f.CreateCounter("eurus_generated_tokens_total", "Tokens generated.");
        PromptSeconds = f.CreateCounter("eurus_prompt_seconds_total", "Seconds requests spent evaluating their prompts (in shared steps: the sum over requests exceeds wall time).");
        DecodeSeconds = f.CreateCounter("eurus_decode_seconds_total", "Seconds requests spent generating.");
        Requests = f.CreateCounter("eurus_requests_total", "Generation requests by endpoint and outcome.", "endpoint", "outcome");
        var buckets = Histogram.ExponentialBuckets(0.005, 2, 16); // 5 ms to ~2.7 min
        RequestSeconds = f.CreateHistogram("eurus_request_duration_seconds", "Wall time of generation requests, queue wait included.",
            new HistogramConfiguration { LabelNames = ["endpoint"], Buckets = buckets });
        FirstTokenSeconds = f.CreateHistogram("eurus_time_to_first_token_seconds", "From a generation request's submission to its first token.",
            new HistogramConfiguration { LabelNames = ["endpoint"], Buckets = buckets });
        var queued = f.CreateGauge("eurus_requests_queued", "Requests waiting for a slot.");
        var busy = f.CreateGauge("eurus_slots_busy", "Slots decoding a request.");
        var slots = f.CreateGauge("eurus_slots_total", "Slots (sequences decoded together).");
        var cached = f.CreateGauge("eurus_slot_cached_tokens", "Tokens held in the slots' prompt caches.");
        var steps = f.CreateGauge("eurus_steps", "Forward steps run (one pass over the weights each).");
        var stepTokens = f.CreateGauge("eurus_step_tokens", "Tokens evaluated by those steps.");
        Registry.AddBeforeCollectCallback(() =>
        {
            var s = generator.GetSlots();
            queued.Set(generator.QueuedRequests);
            busy.Set(generator.ActiveSequences);
            slots.Set(s.Count);
            cached.Set(s.Sum(x => (double)x.CachedTokens));
            steps.Set(generator.Steps);
            stepTokens.Set(generator.StepTokens);
        });
    }

    /// <summary>Counts a finished generation.</summary>
    public void Record(string endpoint, GenerationTimings t, string outcome, double seconds, double? firstTokenSeconds)
    {
        PromptTokens.Inc(t.PromptTokens);
        CachedPromptTokens.Inc(t.CachedPromptTokens);
        GeneratedTokens.Inc(t.GeneratedTokens);
        PromptSeconds.Inc(t.PromptSeconds);
        DecodeSeconds.Inc(t.DecodeSeconds);
        Requests.WithLabels(endpoint, outcome).Inc();
        RequestSeconds.WithLabels(endpoint).Observe(seconds);
        if (firstTokenSeconds is double ft) FirstTokenSeconds.WithLabels(endpoint).Observe(ft);
    }
}
