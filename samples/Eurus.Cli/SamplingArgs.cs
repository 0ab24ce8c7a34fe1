using System.Globalization;
using System.CommandLine;
using Eurus.Cpu.Grammars;
using Eurus.Cpu.Sampling;

namespace Eurus.Cli;

/// <summary>Sampling options with llama.cpp's names and defaults (--temp 0.8, --top-k 40, --top-p 0.95, --min-p 0.05, ...).</summary>
internal sealed class SamplingArgs(int defaultMaxTokens = 128)
{
    public Option<float> Temperature { get; } = Finite(new("--temp") { Description = "temperature; 0 is greedy", DefaultValueFactory = _ => 0.8f });
    public Option<int> TopK { get; } = new("--top-k") { Description = "keep the k most likely tokens (0: all)", DefaultValueFactory = _ => 40 };
    public Option<float> TopP { get; } = Finite(new("--top-p") { Description = "nucleus sampling mass", DefaultValueFactory = _ => 0.95f });
    public Option<float> MinP { get; } = Finite(new("--min-p") { Description = "drop tokens below this fraction of the top probability", DefaultValueFactory = _ => 0.05f });
    public Option<float> RepeatPenalty { get; } = Finite(new("--repeat-penalty") { Description = "penalty for recent tokens (1: none)", DefaultValueFactory = _ => 1.0f });
    public Option<int> RepeatLastN { get; } = new("--repeat-last-n") { Description = "how many recent tokens the penalties look at", DefaultValueFactory = _ => 64 };
    public Option<float> FrequencyPenalty { get; } = Finite(new("--frequency-penalty") { Description = "OpenAI-style frequency penalty", DefaultValueFactory = _ => 0f });
    public Option<float> PresencePenalty { get; } = Finite(new("--presence-penalty") { Description = "OpenAI-style presence penalty", DefaultValueFactory = _ => 0f });
    public Option<ulong?> Seed { get; } = new("--seed", "-s") { Description = "random seed (default: a random one)", HelpName = "N" };
    public Option<int> MaxTokens { get; } = new("--n-predict", "-n") { Description = "most tokens to generate", DefaultValueFactory = _ => defaultMaxTokens };
    public Option<string[]> Stop { get; } = new("--stop")
    {
        Description = "stop at this text (repeatable; \\n is a newline)",
        HelpName = "TEXT",
        Arity = ArgumentArity.ZeroOrMore,
        AllowMultipleArgumentsPerToken = false,
    };
    public Option<bool> IgnoreEos { get; } = new("--ignore-eos") { Description = "keep generating after the end-of-sequence token" };

    // llama.cpp's grammar options: a GBNF file, or a JSON Schema (inline, or @FILE).
    public Option<string?> GrammarFile { get; } = new("--grammar-file") { Description = "constrain the output to a GBNF grammar (llama.cpp's format) read from FILE", HelpName = "FILE" };
    public Option<string?> JsonSchema { get; } = new("--json-schema", "-j") { Description = "constrain the output to JSON matching this JSON Schema (text, or @FILE)", HelpName = "SCHEMA" };

    public void AddTo(Command command)
    {
        foreach (var o in new Option[] { Temperature, TopK, TopP, MinP, RepeatPenalty, RepeatLastN, FrequencyPenalty, PresencePenalty, Seed, MaxTokens, Stop, IgnoreEos,
                                         GrammarFile, JsonSchema })
            command.Add(o);
    }

    public SamplingSettings Read(ParseResult r)
    {
        var s = new SamplingSettings
        {
            Temperature = r.GetValue(Temperature),
            TopK = r.GetValue(TopK),
            TopP = r.GetValue(TopP),
            MinP = r.GetValue(MinP),
            RepeatPenalty = r.GetValue(RepeatPenalty),
            PenaltyWindow = r.GetValue(RepeatLastN),
            FrequencyPenalty = r.GetValue(FrequencyPenalty),
            PresencePenalty = r.GetValue(PresencePenalty),
            Seed = r.GetValue(Seed),
            MaxTokens = r.GetValue(MaxTokens),
            StopStrings = [.. (r.GetValue(Stop) ?? []).Select(s => s.Replace("\\n", "\n", StringComparison.Ordinal))],
            StopAtEos = !r.GetValue(IgnoreEos),
            Grammar = ReadGrammar(r),
        };
        try { s.Validate(); } catch (ArgumentException e) { throw new CliUsageException(e.Message); }
        return s;
    }

    /// <summary>The grammar of --grammar-file or --json-schema (not both); a bad one is a usage error naming its line and column or keyword.</summary>
    private Grammar? ReadGrammar(ParseResult r)
    {
        string? file = r.GetValue(GrammarFile), schema = r.GetValue(JsonSchema);
        if (file is not null && schema is not null) throw new CliUsageException("--grammar-file and --json-schema cannot be used together.");
        try
        {
            if (file is not null) return Grammar.Parse(ReadText(file, "--grammar-file"));
            if (schema is not null) return Grammar.FromJsonSchema(schema.StartsWith('@') ? ReadText(schema[1..], "--json-schema") : schema);
            return null;
        }
        catch (GrammarException e)
        {
            throw new CliUsageException($"{(file is not null ? "--grammar-file " + file : "--json-schema")}: {e.Message}");
        }
    }

    private static string ReadText(string path, string option)
    {
        try { return File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new CliUsageException($"{option}: cannot read '{path}': {e.Message}");
        }
    }

    /// <summary>Parses the value as an invariant-culture number and rejects NaN and infinities.</summary>
    private static Option<float> Finite(Option<float> option)
    {
        option.CustomParser = result =>
        {
            string text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
            if (float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out float v) && float.IsFinite(v)) return v;
            result.AddError($"{option.Name} expects a finite number, got '{text}'.");
            return 0;
        };
        return option;
    }
}
