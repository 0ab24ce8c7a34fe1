using System.CommandLine;
using Eurus.Cpu.HuggingFace;

namespace Eurus.Cli;

/// <summary>Where a Hugging Face model comes from (--endpoint, --revision, --dir) and, for loading, its weight type (--type).</summary>
internal sealed class HfArgs
{
    public Option<string?>? Type { get; }
    public Option<string?> Endpoint { get; } = new("--endpoint") { Description = "hub URL (default: HF_ENDPOINT or huggingface.co)", HelpName = "URL" };
    public Option<string> Revision { get; } = new("--revision") { Description = "branch, tag or commit", DefaultValueFactory = _ => "main" };
    public Option<string?> Dir { get; } = new("--dir") { Description = "download folder (default: ~/.cache/eurus/hf/ORG/NAME)", HelpName = "DIR" };

    public HfArgs(bool withType)
    {
        if (withType)
            Type = new Option<string?>("--type") { Description = $"weight type for a Hugging Face model: {HfCommands.TypeNames} (default q8_0)", HelpName = "TYPE" };
    }

    public void AddTo(Command command)
    {
        if (Type is not null) command.Add(Type);
        command.Add(Endpoint);
        command.Add(Revision);
        command.Add(Dir);
    }

    /// <summary>
    /// The path <c>-m</c> names: a GGUF file, a model folder, or <c>hf:ORG/NAME</c>, which is downloaded first unless
    /// the local copy (in --dir, default ~/.cache/eurus/hf/ORG/NAME) already has config.json and weights.
    /// </summary>
    public async Task<string> ResolveModelAsync(ParseResult r, string path, CancellationToken cancellationToken)
    {
        if (!path.StartsWith("hf:", StringComparison.Ordinal)) return path;
        string repo = path[3..];
        try { HfHubClient.ValidateRepoId(repo); } catch (ArgumentException e) { throw new CliUsageException(e.Message); }
        string dir = r.GetValue(Dir) ?? HfCommands.DefaultDir(repo);
        if (HfCommands.IsComplete(dir)) return dir;
        return await PullAsync(r, repo, dir, cancellationToken);
    }

    /// <summary>Downloads <paramref name="repo"/> into <paramref name="dir"/>, one progress bar per file.</summary>
    public async Task<string> PullAsync(ParseResult r, string repo, string dir, CancellationToken cancellationToken)
    {
        string revision = r.GetValue(Revision) ?? "main";
        using var client = new HfHubClient(r.GetValue(Endpoint));
        Console.Error.WriteLine($"eurus: pulling {repo}@{revision} from {client.Endpoint} into {dir}");
        return await ConsoleUi.WithTransfersAsync(async progress =>
        {
            await client.PullAsync(repo, dir, revision,
                new SyncProgress<HfDownloadProgress>(p => progress.Report((p.File, p.BytesDone, p.BytesTotal))), cancellationToken);
            return dir;
        });
    }
}
