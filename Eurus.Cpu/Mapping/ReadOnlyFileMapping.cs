using System.IO.MemoryMappedFiles;

namespace Eurus.Cpu.Mapping;

/// <summary>
/// The memory-mapping layer shared by the GGUF and safetensors readers: a whole file mapped read-only with its base
/// pointer acquired once. Readers validate every offset against <see cref="Length"/> before they read through
/// <see cref="Base"/>; nothing else in the library takes a pointer into a file.
/// </summary>
internal sealed unsafe class ReadOnlyFileMapping : IDisposable
{
    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;

    private ReadOnlyFileMapping(MemoryMappedFile map, MemoryMappedViewAccessor view, byte* basePtr, long length)
    {
        _map = map;
        _view = view;
        Base = basePtr;
        Length = length;
    }

    /// <summary>First byte of the file (null once disposed).</summary>
    public byte* Base { get; private set; }

    /// <summary>Length of the file in bytes.</summary>
    public long Length { get; }

    /// <summary>
    /// Opens and maps <paramref name="path"/>; a file shorter than <paramref name="minLength"/> (≥ 1: empty files
    /// cannot be mapped) is closed and reported with the reader's own exception from <paramref name="tooShort"/>.
    /// </summary>
    public static ReadOnlyFileMapping Open(string path, long minLength, Func<long, Exception> tooShort)
    {
        var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.RandomAccess);
        long length = fs.Length;
        if (length < Math.Max(1, minLength))
        {
            fs.Dispose();
            throw tooShort(length);
        }
        return Create(fs);
    }

    /// <summary>Maps <paramref name="file"/> (non-empty), taking ownership of it: it is closed with the mapping, or now if mapping fails.</summary>
    public static ReadOnlyFileMapping Create(FileStream file)
    {
        MemoryMappedFile? map = null;
        MemoryMappedViewAccessor? view = null;
        try
        {
            long length = file.Length;
            map = MemoryMappedFile.CreateFromFile(file, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            byte* p = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
            return new ReadOnlyFileMapping(map, view, p + view.PointerOffset, length);
        }
        catch
        {
            view?.Dispose();
            if (map is not null) map.Dispose();
            else file.Dispose();
            throw;
        }
    }

    /// <summary>Releases the pointer and unmaps the file.</summary>
    public void Dispose()
    {
        if (Base == null) return;
        Base = null;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }
}
