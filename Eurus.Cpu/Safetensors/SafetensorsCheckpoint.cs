using System.Text.Json;

namespace Eurus.Cpu.Safetensors;

/// <summary>
/// The weights of a Hugging Face model folder: either one <c>model.safetensors</c>, or the shards listed in
/// <c>model.safetensors.index.json</c> (<c>{"weight_map": {"tensor": "model-00001-of-00002.safetensors", …}}</c>).
/// Every shard is memory-mapped and validated; tensor names are unique across shards, and every tensor of the
/// index is in the shard the index names.
/// </summary>
public sealed class SafetensorsCheckpoint : IDisposable
{
    /// <summary>File name of a single-file checkpoint.</summary>
    public const string SingleFileName = "model.safetensors";

    /// <summary>File name of a sharded checkpoint's index.</summary>
    public const string IndexFileName = "model.safetensors.index.json";

    private const long MaxIndexBytes = 64 << 20;
    private const int MaxShards = 4096;

    private readonly List<SafetensorsFile> _files;
    private readonly Dictionary<string, SafetensorsTensorInfo> _byName;

    private SafetensorsCheckpoint(List<SafetensorsFile> files, Dictionary<string, SafetensorsTensorInfo> byName)
    {
        _files = files;
        _byName = byName;
    }

    /// <summary>The opened shard files (one for a single-file checkpoint).</summary>
    public IReadOnlyList<SafetensorsFile> Files => _files;

    /// <summary>All tensors by name.</summary>
    public IReadOnlyDictionary<string, SafetensorsTensorInfo> Tensors => _byName;

    /// <summary>Total bytes of tensor data.</summary>
    public long TotalBytes => _byName.Values.Sum(t => t.ByteSize);

    /// <summary>Whether <paramref name="folder"/> holds a safetensors checkpoint (single file or index).</summary>
    public static bool Exists(string folder) =>
        File.Exists(Path.Combine(folder, IndexFileName)) || File.Exists(Path.Combine(folder, SingleFileName));

    /// <summary>
    /// Opens the checkpoint in <paramref name="folder"/>: the index if there is one, else <c>model.safetensors</c>.
    /// Throws <see cref="SafetensorsFormatException"/> for a malformed index or shard, <see cref="FileNotFoundException"/>
    /// when neither file (or a listed shard) exists.
    /// </summary>
    public static SafetensorsCheckpoint Open(string folder)
    {
        ArgumentNullException.ThrowIfNull(folder);
        string index = Path.Combine(folder, IndexFileName);
        if (File.Exists(index)) return OpenSharded(folder, index);
        string single = Path.Combine(folder, SingleFileName);
        if (!File.Exists(single))
            throw new FileNotFoundException($"{folder} holds neither {SingleFileName} nor {IndexFileName}.", single);
        var file = SafetensorsFile.Open(single);
        return new SafetensorsCheckpoint([file], file.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal));
    }

    private static SafetensorsCheckpoint OpenSharded(string folder, string index)
    {
        var map = ReadIndex(index);
        var files = new List<SafetensorsFile>();
        try
        {
            var shards = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
            foreach (string shard in map.Values.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
            {
                string path = Path.Combine(folder, shard);
                if (!File.Exists(path))
                    throw new SafetensorsFormatException(index, null, $"shard '{shard}' listed in the weight map does not exist.");
                var f = SafetensorsFile.Open(path);
                files.Add(f);
                shards[shard] = f;
            }
            var byName = new Dictionary<string, SafetensorsTensorInfo>(StringComparer.Ordinal);
            foreach (var f in files)
                foreach (var t in f.Tensors)
                    if (!byName.TryAdd(t.Name, t))
                        throw new SafetensorsFormatException(f.FilePath, t.Name, $"the tensor is also in {byName[t.Name].File.FilePath}.");
            foreach (var (name, shard) in map)
                if (!shards[shard].TryGetTensor(name, out _))
                    throw new SafetensorsFormatException(index, name, $"the weight map puts the tensor in '{shard}', which does not hold it.");
            return new SafetensorsCheckpoint(files, byName);
        }
        catch
        {
            foreach (var f in files) f.Dispose();
            throw;
        }
    }

    private static Dictionary<string, string> ReadIndex(string index)
    {
        long length = new FileInfo(index).Length;
        if (length > MaxIndexBytes)
            throw new SafetensorsFormatException(index, null, $"the index is {length} bytes, more than the {MaxIndexBytes}-byte limit.");
        byte[] bytes = File.ReadAllBytes(index);
        if (!System.Text.Unicode.Utf8.IsValid(bytes))
            throw new SafetensorsFormatException(index, null, "the index is not valid UTF-8.");
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 8 });
        }
        catch (JsonException e)
        {
            throw new SafetensorsFormatException(index, null, $"the index is not valid JSON: {e.Message}", e);
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object
                || !doc.RootElement.TryGetProperty("weight_map", out var wm) || wm.ValueKind != JsonValueKind.Object)
                throw new SafetensorsFormatException(index, null, "the index has no 'weight_map' object.");
            var map = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var p in wm.EnumerateObject())
            {
                if (p.Value.ValueKind != JsonValueKind.String)
                    throw new SafetensorsFormatException(index, p.Name, "its weight_map entry is not a file name string.");
                string shard = p.Value.GetString()!;
                // Shards are plain file names beside the index: nothing that could leave the folder.
                if (shard.Length == 0 || shard != Path.GetFileName(shard) || shard is "." or ".." || shard.Contains('\\') || shard.Contains('/')
                    || !shard.EndsWith(".safetensors", StringComparison.Ordinal))
                    throw new SafetensorsFormatException(index, p.Name, $"shard name '{shard}' is not a .safetensors file name in the same folder.");
                if (!map.TryAdd(p.Name, shard))
                    throw new SafetensorsFormatException(index, p.Name, "the tensor appears twice in the weight map.");
            }
            if (map.Count == 0) throw new SafetensorsFormatException(index, null, "the weight map is empty.");
            if (map.Values.Distinct(StringComparer.Ordinal).Count() > MaxShards)
                throw new SafetensorsFormatException(index, null, $"the weight map names more than {MaxShards} shards.");
            return map;
        }
    }

    /// <summary>Looks a tensor up by name.</summary>
    public bool TryGetTensor(string name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out SafetensorsTensorInfo? tensor) => _byName.TryGetValue(name, out tensor);

    /// <summary>Unmaps every shard.</summary>
    public void Dispose()
    {
        foreach (var f in _files) f.Dispose();
    }
}
