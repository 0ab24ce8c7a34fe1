using System.Runtime.CompilerServices;

namespace Eurus.Cpu.Kernels;

/// <summary>
/// One layout's kernels on one ISA, as the tile driver sees them: a row kernel (one output row · one token), a tile of
/// <see cref="TileRows"/> rows × <see cref="TileTokens"/> tokens, optionally a narrower tile of
/// <see cref="SmallTileTokens"/> tokens for what is left, and what a row block needs made once before its tiles. Every
/// tile equals the row kernel bit for bit, so how the driver cuts a block into tiles never changes a result (a prompt
/// equals decoding). Implemented by small structs, so <see cref="TileDriver.Run"/> is compiled once per kernel with
/// every call inlined (TensorPrimitives' operator-struct pattern).
/// </summary>
internal unsafe interface ITileKernel
{
    /// <summary>Rows of a tile (1 or 2); a block's last rows that do not fill one go through <see cref="Row"/>.</summary>
    int TileRows { get; }

    /// <summary>Tokens of the wide tile; 0 when this kernel has no tiles (rows only).</summary>
    int TileTokens { get; }

    /// <summary>Tokens of the narrow tile for the tokens left after the wide tiles; 0 for none.</summary>
    int SmallTileTokens { get; }

    /// <summary>Prepares rows [<paramref name="r0"/>, <paramref name="r1"/>) for tiles, wide or narrow (once per row block and token chunk).</summary>
    void PrepareBlock(int r0, int r1);

    /// <summary>Writes y[(t + j)·stride + row + i] for the wide tile at (<paramref name="row"/>, <paramref name="t"/>).</summary>
    void Tile(int row, int t, float* y, long stride);

    /// <summary>The narrow tile (see <see cref="SmallTileTokens"/>).</summary>
    void SmallTile(int row, int t, float* y, long stride);

    /// <summary>Output row <paramref name="row"/> · token <paramref name="t"/>.</summary>
    float Row(int row, int t);
}

/// <summary>A row kernel alone: output row <c>row</c> · token <c>t</c>.</summary>
internal interface IRowKernel
{
    /// <summary>Output row <paramref name="row"/> · token <paramref name="t"/>.</summary>
    float Row(int row, int t);
}

/// <summary>A layout (or ISA) with no tiles: the driver runs its row kernel for every (row, token).</summary>
internal readonly unsafe struct RowsOnly<TRow>(TRow rows) : ITileKernel where TRow : struct, IRowKernel
{
    public int TileRows => 1;
    public int TileTokens => 0;
    public int SmallTileTokens => 0;
    public void PrepareBlock(int r0, int r1) { }
    public void Tile(int row, int t, float* y, long stride) { }
    public void SmallTile(int row, int t, float* y, long stride) { }
    public float Row(int row, int t) => rows.Row(row, t);
}

/// <summary>
/// The one tile driver: walks a row block × a token chunk of y = W·x for any <see cref="ITileKernel"/> — wide tiles,
/// then narrow tiles, then the row kernel for the tokens left; rows that do not fill a tile go through the row kernel
/// token by token. Blocking across row blocks and token chunks, and threading, are <see cref="MatMul"/>'s.
/// </summary>
internal static unsafe class TileDriver
{
    /// <summary>Rows [<paramref name="r0"/>, <paramref name="r1"/>) × tokens [<paramref name="t"/>, <paramref name="tEnd"/>) into y[token·rows + row].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run<TKernel>(TKernel k, int r0, int r1, int t, int tEnd, float* y, int rows) where TKernel : struct, ITileKernel
    {
        int wide = k.TileTokens, small = k.SmallTileTokens;
        if ((wide > 0 && t + wide <= tEnd) || (small > 0 && t + small <= tEnd)) k.PrepareBlock(r0, r1);
        if (wide > 0)
            for (; t + wide <= tEnd; t += wide) Tiles(k, false, wide, r0, r1, t, y, rows);
        if (small > 0)
            for (; t + small <= tEnd; t += small) Tiles(k, true, small, r0, r1, t, y, rows);
        for (; t < tEnd; t++)
            for (int r = r0; r < r1; r++) y[(long)t * rows + r] = k.Row(r, t);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Tiles<TKernel>(TKernel k, bool small, int tokens, int r0, int r1, int t, float* y, int rows) where TKernel : struct, ITileKernel
    {
        int tr = k.TileRows, r = r0;
        float* yt = y + (long)t * rows;
        for (; r + tr <= r1; r += tr)
        {
            if (small) k.SmallTile(r, t, yt + r, rows);
            else k.Tile(r, t, yt + r, rows);
        }
        // A block's last rows that do not fill a tile: the same arithmetic, one token at a time.
        for (; r < r1; r++)
            for (int j = t; j < t + tokens; j++) y[(long)j * rows + r] = k.Row(r, j);
    }
}
