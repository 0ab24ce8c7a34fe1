namespace Eurus.Cpu.Grammars;

/// <summary>One element of a sequence: a reference to a rule, or a set of code points (one character).</summary>
internal readonly record struct GrammarElement(bool IsRule, int Value)
{
    public static GrammarElement Rule(int id) => new(true, id);
    public static GrammarElement Chars(int classId) => new(false, classId);
}

/// <summary>
/// A set of code points: sorted, merged inclusive ranges (lo, hi pairs), possibly negated. <c>.</c> is the negation of
/// the empty set.
/// </summary>
internal sealed class CharClass(int[] ranges, bool negated)
{
    public readonly int[] Ranges = ranges;
    public readonly bool Negated = negated;

    public bool Matches(int cp)
    {
        var r = Ranges;
        for (int i = 0; i < r.Length; i += 2)
            if (cp >= r[i] && cp <= r[i + 1]) return !Negated;
        return Negated;
    }

    /// <summary>Whether some code point in [lo, hi] matches (used for a partly read UTF-8 character).</summary>
    public bool Intersects(int lo, int hi)
    {
        var r = Ranges;
        if (!Negated)
        {
            for (int i = 0; i < r.Length; i += 2)
                if (r[i] <= hi && r[i + 1] >= lo) return true;
            return false;
        }
        // Ranges are sorted and merged: [lo, hi] is excluded only if one range covers it.
        for (int i = 0; i < r.Length; i += 2)
            if (r[i] <= lo && r[i + 1] >= hi) return false;
        return true;
    }

    /// <summary>Sorts and merges (lo, hi) pairs.</summary>
    public static CharClass Create(List<(int Lo, int Hi)> ranges, bool negated)
    {
        ranges.Sort();
        var merged = new List<int>();
        foreach (var (lo, hi) in ranges)
        {
            if (merged.Count > 0 && lo <= merged[^1] + 1) merged[^1] = Math.Max(merged[^1], hi);
            else { merged.Add(lo); merged.Add(hi); }
        }
        return new CharClass([.. merged], negated);
    }
}

/// <summary>
/// Rules as the parser builds them: every rule a list of alternatives, every alternative a sequence of elements.
/// Groups and repetitions become generated rules (named after their rule, like llama.cpp's <c>root-1</c>).
/// </summary>
internal sealed class GrammarRules
{
    public readonly List<string> Names = [];
    public readonly List<List<GrammarElement[]>?> Alternatives = []; // null: referenced but not (yet) defined
    public readonly List<(int Line, int Column)> Locations = [];        // the definition, else the first reference
    public readonly List<CharClass> Classes = [];
    private readonly Dictionary<string, int> _ids = new(StringComparer.Ordinal);

    public int Count => Names.Count;

    /// <summary>The id of the rule <paramref name="name"/>, creating an undefined one at first sight.</summary>
    public int Id(string name, int line, int column)
    {
        if (_ids.TryGetValue(name, out int id)) return id;
        id = Names.Count;
        _ids[name] = id;
        Names.Add(name);
        Alternatives.Add(null);
        Locations.Add((line, column));
        return id;
    }

    public bool TryGetId(string name, out int id) => _ids.TryGetValue(name, out id);

    /// <summary>A new rule named <c>base-N</c>, defined by <paramref name="alternatives"/>.</summary>
    public int Generated(string baseName, List<GrammarElement[]> alternatives, int line, int column)
    {
        string name;
        int n = Names.Count;
        do name = $"{baseName}-{n++}"; while (_ids.ContainsKey(name));
        int id = Id(name, line, column);
        Alternatives[id] = alternatives;
        return id;
    }

    public int AddClass(CharClass c)
    {
        Classes.Add(c);
        return Classes.Count - 1;
    }
}
