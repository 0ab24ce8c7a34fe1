using Eurus.Cpu.Grammars;
using Xunit;

namespace Eurus.Cpu.Tests.Grammars;

/// <summary>JSON Schema → grammar: what each keyword accepts and rejects, and typed errors naming the keyword.</summary>
public sealed class JsonSchemaGrammarTests
{
    public static TheoryData<string, string[], string[]> Cases() => new()
    {
        { """{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"}},"required":["a"],"additionalProperties":false}""",
          ["{\"a\":1}", "{\"a\": -12, \"b\": \"x\"}", "{ \"a\" : 0 }"], ["{}", "{\"b\":\"x\"}", "{\"a\":1.5}", "{\"a\":1,\"c\":2}", "{\"a\":01}"] },
        { """{"type":"object","properties":{"x":{"type":"boolean"},"y":{"type":"null"}}}""",
          ["{}", "{\"x\":true}", "{\"y\":null}", "{\"x\":false,\"y\":null}"], ["{\"y\":null,\"x\":true,}", "{\"x\":1}", "{,}"] },
        { """{"type":"object","properties":{"k":{"type":"integer"}},"additionalProperties":{"type":"boolean"}}""",
          ["{}", "{\"k\":1,\"extra\":true}", "{\"other\":false}"], ["{\"extra\":1}"] },
        { """{"type":"array","items":{"type":"string","maxLength":3},"minItems":1,"maxItems":2}""",
          ["[\"a\"]", "[\"abc\", \"\"]"], ["[]", "[\"a\",\"b\",\"c\"]", "[\"abcd\"]", "[1]"] },
        { """{"enum":["red",2,null,{"a":[1]}]}""", ["\"red\"", "2", "null", "{\"a\":[1]}"], ["\"blue\"", "3", "{\"a\":[2]}"] },
        { """{"const":"fixed"}""", ["\"fixed\""], ["\"other\""] },
        { """{"type":["integer","null"]}""", ["5", "null"], ["\"5\"", "true"] },
        { """{"type":"number"}""", ["1", "-0.5", "3e8", "2.5E-3"], ["+1", ".5", "1.", "NaN"] },
        { """{"type":"string","format":"date"}""", ["\"2024-02-29\""], ["\"2024-2-29\"", "\"2024-13-01\"", "\"x\""] },
        { """{"type":"string","format":"date-time"}""", ["\"2024-02-29T12:30:00Z\"", "\"2024-02-29T12:30:00.123+01:00\""], ["\"2024-02-29 12:30:00Z\""] },
        { """{"type":"string","format":"uuid"}""", ["\"123e4567-e89b-12d3-a456-426614174000\""], ["\"123e4567e89b12d3a456426614174000\""] },
        { """{"type":"string","minLength":2,"maxLength":3}""", ["\"ab\"", "\"a\\nb\"", "\"αβγ\""], ["\"a\"", "\"abcd\""] },
        { """{"definitions":{"node":{"type":"object","properties":{"v":{"type":"integer"},"next":{"anyOf":[{"$ref":"#/definitions/node"},{"type":"null"}]}},"required":["v","next"]}},"$ref":"#/definitions/node"}""",
          ["{\"v\":1,\"next\":null}", "{\"v\":1,\"next\":{\"v\":2,\"next\":null}}"], ["{\"v\":1}", "{\"v\":1,\"next\":{\"v\":2}}"] },
        { """{"type":"array","prefixItems":[{"type":"integer"},{"type":"string"}],"items":false}""", ["[1, \"a\"]"], ["[1]", "[\"a\", 1]", "[1,\"a\",2]"] },
        { """{"type":"object"}""", ["{}", "{\"any\":[1,{\"b\":null}]}"], ["[]", "{\"a\"}"] },
        { """{}""", ["1", "\"s\"", "[true]", "{}"], ["", "tru"] },
        { """{"title":"T","description":"d","$schema":"https://json-schema.org/draft/2020-12/schema","type":"string","format":"email"}""", ["\"anything\""], ["1"] },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void SchemasAcceptAndReject(string schema, string[] accept, string[] reject)
    {
        var g = Grammar.FromJsonSchema(schema);
        foreach (var text in accept) Assert.True(g.Matches(text), $"should accept {text}\n{g.Text}");
        foreach (var text in reject) Assert.False(g.Matches(text), $"should reject {text}\n{g.Text}");
    }

    [Theory]
    [InlineData("""{"type":"string","pattern":"^a+$"}""", "pattern", "")]
    [InlineData("""{"type":"object","properties":{"n":{"type":"integer","minimum":0}}}""", "minimum", "/properties/n")]
    [InlineData("""{"allOf":[{"type":"string"}]}""", "allOf", "")]
    [InlineData("""{"type":"array","items":{"uniqueItems":true}}""", "uniqueItems", "/items")]
    [InlineData("""{"$ref":"https://example.com/s.json"}""", "$ref", "")]
    [InlineData("""{"$ref":"#/$defs/missing"}""", "$ref", "")]
    [InlineData("""{"type":"strin"}""", "type", "")]
    [InlineData("""{"type":"object","required":["a"]}""", "required", "")]
    [InlineData("""{"type":"array","minItems":3,"maxItems":2}""", "maxItems", "")]
    public void UnsupportedOrBadKeywordsAreNamed(string schema, string keyword, string path)
    {
        var e = Assert.Throws<JsonSchemaGrammarException>(() => Grammar.FromJsonSchema(schema));
        Assert.Equal(keyword, e.Keyword);
        Assert.Equal(path, e.SchemaPath);
        Assert.Contains(keyword, e.Message);
    }

    [Theory]
    [InlineData("{\"type\":")]
    [InlineData("false")]
    [InlineData("42")]
    public void MalformedSchemasThrowTypedErrors(string schema) =>
        Assert.Throws<JsonSchemaGrammarException>(() => Grammar.FromJsonSchema(schema));

    [Fact]
    public void LongRefChainsAndSelfReferencesFailCleanly()
    {
        var defs = string.Join(",", Enumerable.Range(0, 5000).Select(i => $"\"a{i}\": {{\"$ref\": \"#/$defs/a{i + 1}\"}}"));
        var e = Assert.Throws<JsonSchemaGrammarException>(() => Grammar.FromJsonSchema($"{{\"$defs\": {{{defs}, \"a5000\": {{\"type\": \"integer\"}}}}, \"$ref\": \"#/$defs/a0\"}}"));
        Assert.Contains("deeper than 256", e.Message);
        Assert.Throws<GrammarException>(() => Grammar.FromJsonSchema("{\"$defs\": {\"x\": {\"$ref\": \"#/$defs/x\"}}, \"$ref\": \"#/$defs/x\"}"));
        // Keys that sanitize to one rule name stay two rules.
        var g = Grammar.FromJsonSchema("{\"$defs\": {\"a b\": {\"const\": 1}, \"a-b\": {\"const\": 2}}, \"type\": \"array\", \"prefixItems\": [{\"$ref\": \"#/$defs/a b\"}, {\"$ref\": \"#/$defs/a-b\"}], \"items\": false}");
        Assert.True(g.Matches("[1,2]"));
        Assert.False(g.Matches("[1,1]"));
    }

    [Fact]
    public void TheGeneratedGbnfIsReadable()
    {
        string gbnf = Grammar.JsonSchemaToGbnf("""{"type":"object","properties":{"name":{"type":"string"}},"required":["name"]}""");
        Assert.Contains("root ::= ", gbnf);
        Assert.Contains("root-name-kv ::= ", gbnf);
        Assert.Equal(gbnf, Grammar.FromJsonSchema("""{"type":"object","properties":{"name":{"type":"string"}},"required":["name"]}""").Text);
    }
}
