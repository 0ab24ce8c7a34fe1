namespace Eurus.Cpu.Grammars;

/// <summary>
/// Checks made once, when a grammar is built, so that matching can never loop or dead-end: every referenced rule is
/// defined, alternatives that can never complete are dropped (the root must keep one), and no rule can reach itself
/// without consuming a character (left recursion, which a stack matcher would expand forever).
/// </summary>
internal static class GrammarAnalysis
{
    public static void Check(GrammarRules rules, int root)
    {
        int n = rules.Count;
        for (int r = 0; r < n; r++)
            if (rules.Alternatives[r] is null)
            {
                var (l, c) = rules.Locations[r];
                throw new GrammarException($"rule '{rules.Names[r]}' is used but not defined", l, c);
            }
        var alts = rules.Alternatives.Select(a => a!).ToArray();

        // Productive: the rule can derive some finite string. Alternatives that reference an unproductive rule (of rules the
        // root cannot reach) are dropped.
        var productive = Fixpoint(alts, n, e => !e.IsRule ? 0 : 1);
        if (!productive[root])
        {
            var (l, c) = rules.Locations[root];
            throw new GrammarException($"the grammar can never complete: rule '{rules.Names[root]}' derives no finite text (every alternative recurses without end)", l, c);
        }
        // A rule the root can reach that can never complete is a mistake too (a named one is reported; generated rules
        // are unproductive only through one).
        var reachable = new bool[n];
        var todo = new Stack<int>();
        reachable[root] = true;
        todo.Push(root);
        while (todo.Count > 0)
            foreach (var a in alts[todo.Pop()])
                foreach (var e in a)
                    if (e.IsRule && !reachable[e.Value]) { reachable[e.Value] = true; todo.Push(e.Value); }
        int stuck = -1;
        for (int r = 0; r < n; r++)
            if (reachable[r] && !productive[r] && (stuck < 0 || IsGeneratedName(rules.Names[stuck]) && !IsGeneratedName(rules.Names[r]))) stuck = r;
        if (stuck >= 0)
        {
            var (l, c) = rules.Locations[stuck];
            throw new GrammarException($"the grammar can never complete through rule '{rules.Names[stuck]}': it derives no finite text (every alternative recurses without end)", l, c);
        }
        for (int r = 0; r < n; r++)
            alts[r].RemoveAll(a => a.Any(e => e.IsRule && !productive[e.Value]));

        // Nullable: the rule can match the empty string.
        var nullable = Fixpoint(alts, n, e => !e.IsRule ? -1 : 1);

        // Left recursion: r → s when s can be the first thing r matches (after nullable rules). A cycle is an error.
        var left = new List<int>[n];
        for (int r = 0; r < n; r++)
        {
            left[r] = [];
            foreach (var a in alts[r])
                foreach (var e in a)
                {
                    if (!e.IsRule) break;
                    left[r].Add(e.Value);
                    if (!nullable[e.Value]) break;
                }
        }
        var state = new byte[n]; // 0 unseen, 1 on the path, 2 done
        for (int r = 0; r < n; r++)
            if (state[r] == 0 && FindCycle(r, left, state) is int bad)
            {
                var (l, c) = rules.Locations[bad];
                string name = rules.Names[bad];
                bool generated = IsGeneratedName(name);
                throw new GrammarException(generated
                    ? $"left recursion: a group or repetition here can repeat without consuming a character (is something that can match the empty string repeated with * or +?)"
                    : $"left recursion: rule '{name}' can reach itself without consuming a character", l, c);
            }
    }

    /// <summary>
    /// The rules with an alternative whose elements all hold (an element holds: weight 0 always, -1 never, 1 when its
    /// rule holds), in time linear in the grammar's size: each alternative counts the rule references it still waits
    /// for, and a rule that starts to hold releases the alternatives that wait for it.
    /// </summary>
    private static bool[] Fixpoint(List<GrammarElement[]>[] alts, int n, Func<GrammarElement, int> weight)
    {
        var holds = new bool[n];
        var waiting = new List<(int Rule, int Alt)>[n];
        var ready = new Stack<int>();
        var counts = new int[n][];
        for (int r = 0; r < n; r++)
        {
            counts[r] = new int[alts[r].Count];
            for (int a = 0; a < alts[r].Count; a++)
            {
                int c = 0;
                bool never = false;
                foreach (var e in alts[r][a])
                {
                    int w = weight(e);
                    if (w < 0) { never = true; break; }
                    if (w > 0) { c++; (waiting[e.Value] ??= []).Add((r, a)); }
                }
                counts[r][a] = never ? -1 : c;
                if (c == 0 && !never && !holds[r]) { holds[r] = true; ready.Push(r); }
            }
        }
        while (ready.Count > 0)
        {
            int s = ready.Pop();
            if (waiting[s] is null) continue;
            foreach (var (r, a) in waiting[s])
            {
                if (counts[r][a] <= 0) continue;
                if (--counts[r][a] == 0 && !holds[r]) { holds[r] = true; ready.Push(r); }
            }
        }
        return holds;
    }

    private static bool IsGeneratedName(string name)
    {
        int dash = name.LastIndexOf('-');
        return dash > 0 && dash < name.Length - 1 && name.AsSpan(dash + 1).IndexOfAnyExceptInRange('0', '9') < 0;
    }

    /// <summary>A rule on a cycle reachable from <paramref name="start"/>, or null. Iterative (deep grammars).</summary>
    private static int? FindCycle(int start, List<int>[] edges, byte[] state)
    {
        var stack = new Stack<(int Rule, int Next)>();
        stack.Push((start, 0));
        state[start] = 1;
        while (stack.Count > 0)
        {
            var (r, i) = stack.Pop();
            if (i < edges[r].Count)
            {
                stack.Push((r, i + 1));
                int s = edges[r][i];
                if (state[s] == 1) return s;
                if (state[s] == 0) { state[s] = 1; stack.Push((s, 0)); }
            }
            else state[r] = 2;
        }
        return null;
    }
}
