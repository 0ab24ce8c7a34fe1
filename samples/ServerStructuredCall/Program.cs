// A schema-constrained call to eurus-server (samples/Server) with the official OpenAI .NET client: the request's
// response_format carries a JSON Schema, the server turns it into a grammar, and every token it samples keeps the
// answer valid JSON of that shape, so the answer always deserializes into the record below.
// (The demo model only knows the King James Bible, so the values are nonsense; a real model fills them sensibly.)
// Start the server first:  dotnet run -c Release --project samples/Server -- --port 8080
// Then:                    dotnet run -c Release --project samples/ServerStructuredCall -- [--url http://127.0.0.1:8080]
//                              [--api-key KEY] [--seed N] [QUESTION]
using System.ClientModel;
using System.Text.Json;
using System.Text.Json.Serialization;
using OpenAI;
using OpenAI.Chat;

string url = "http://127.0.0.1:8080", apiKey = "none", question = "Name a verse of the Psalms and its mood.";
long seed = 1;
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "--url" && i + 1 < args.Length) url = args[++i];
    else if (args[i] == "--api-key" && i + 1 < args.Length) apiKey = args[++i];
    else if (args[i] == "--seed" && i + 1 < args.Length && long.TryParse(args[i + 1], out seed)) i++;
    else question = args[i];
}

// The schema (what response_format.json_schema.schema carries). maxLength bounds the string, so it must close.
const string schema = """
    {
      "type": "object",
      "properties": {
        "book": { "type": "string", "maxLength": 24 },
        "chapter": { "type": "integer" },
        "verse": { "type": "integer" },
        "mood": { "enum": ["joyful", "sorrowful", "wrathful"] }
      },
      "required": ["book", "chapter", "verse", "mood"],
      "additionalProperties": false
    }
    """;

var client = new ChatClient("eurus", new ApiKeyCredential(apiKey), new OpenAIClientOptions
{
    Endpoint = new Uri(url.TrimEnd('/') + "/v1"),
    RetryPolicy = new System.ClientModel.Primitives.ClientRetryPolicy(maxRetries: 1),
});
var options = new ChatCompletionOptions
{
    ResponseFormat = ChatResponseFormat.CreateJsonSchemaFormat("verse", BinaryData.FromString(schema), jsonSchemaIsStrict: true),
    Temperature = 0.8f,
    Seed = seed,
    MaxOutputTokenCount = 200,
};
ChatCompletion completion;
try
{
    completion = await client.CompleteChatAsync([new UserChatMessage(question)], options);
}
catch (Exception e) when (e is ClientResultException or HttpRequestException or AggregateException)
{
    // A refused connection comes after the client's retries, as an AggregateException.
    Console.Error.WriteLine($"the server at {url} did not answer: {(e is AggregateException a ? a.InnerExceptions[^1].Message : e.Message)}");
    return 1;
}
string json = completion.Content[0].Text;
Console.Error.WriteLine($"JSON: {json.Trim()} (finish: {completion.FinishReason}, {completion.Usage.OutputTokenCount} tokens)");
var verse = JsonSerializer.Deserialize<PsalmVerse>(json, new JsonSerializerOptions { PropertyNameCaseInsensitive = true, Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) } })!;
Console.WriteLine($"{verse.Book} {verse.Chapter}:{verse.Verse} ({verse.Mood})");
return 0;

enum Mood { Joyful, Sorrowful, Wrathful }

record PsalmVerse(string Book, int Chapter, int Verse, Mood Mood);
