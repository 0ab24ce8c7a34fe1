namespace Eurus.Server;

/// <summary>llama-server's /tokenize and /detokenize.</summary>
internal static class TokenEndpoints
{
    public static async Task Tokenize(HttpContext ctx, ServerState s)
    {
        var req = await Json.Read(ctx, RequestJson.Default.TokenizeRequest);
        if (req.Content is null) throw ApiException.BadRequest("'content' (a string) is required.", "content");
        long bytes = 0;
        RequestLimits.PromptBytes(ref bytes, req.Content, s.Options, "content");
        var tokens = s.Model.Tokenizer.Encode(req.Content, addBos: req.AddSpecial);
        await Results.Json(new { tokens }).ExecuteAsync(ctx);
    }

    public static async Task Detokenize(HttpContext ctx, ServerState s)
    {
        var req = await Json.Read(ctx, RequestJson.Default.DetokenizeRequest);
        if (req.Tokens is null) throw ApiException.BadRequest("'tokens' (an array of token ids) is required.", "tokens");
        int vocab = s.Model.Tokenizer.VocabSize;
        foreach (int t in req.Tokens)
            if ((uint)t >= (uint)vocab) throw ApiException.BadRequest($"token id {t} is outside the vocabulary (0..{vocab - 1}).", "tokens");
        await Results.Json(new { content = s.Model.Tokenizer.Decode(req.Tokens) }).ExecuteAsync(ctx);
    }
}
