using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace Eurus.Cpu.Tools;

/// <summary>
/// Finds and kills the processes under the Python interpreter: its descendants (the driver is a child subreaper, so even
/// double-forked daemons stay its descendants while it lives) and the members of its session and process group (the
/// driver starts its own session, whose id is its pid). Linux reads <c>/proc</c>; macOS only signals the process group.
/// </summary>
internal static partial class ProcessTree
{
    private const int SigKill = 9;
    private static int SigStop => OperatingSystem.IsLinux() ? 19 : 17; // 17 on macOS and the BSDs

    // kill(2): the one system call .NET has no managed API for (signals other than SIGKILL, and to a process group).
    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SysKill(int pid, int signal);

    /// <summary>One process: its state letter (Z for a zombie), parent, process group and session.</summary>
    internal readonly record struct Entry(char State, int Parent, int Group, int Session);

    /// <summary>Every process in <c>/proc</c> (Linux); empty elsewhere.</summary>
    public static Dictionary<int, Entry> Scan()
    {
        var procs = new Dictionary<int, Entry>();
        if (!OperatingSystem.IsLinux()) return procs;
        Span<Range> parts = stackalloc Range[5];
        foreach (string dir in Directory.EnumerateDirectories("/proc"))
        {
            string name = Path.GetFileName(dir);
            if (name.Length == 0 || !char.IsAsciiDigit(name[0]) || !int.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out int pid)) continue;
            string stat;
            try { stat = File.ReadAllText(Path.Combine(dir, "stat")); }
            catch (IOException) { continue; } // exited meanwhile
            catch (UnauthorizedAccessException) { continue; }
            // "pid (comm) S ppid pgrp session …": comm may hold spaces and parentheses, so parse after the last ')'.
            int close = stat.LastIndexOf(')');
            if (close < 0 || close + 2 >= stat.Length) continue;
            var f = stat.AsSpan(close + 2);
            if (f.Split(parts, ' ') < 5) continue;
            if (f[parts[0]].Length != 1
                || !int.TryParse(f[parts[1]], NumberStyles.None, CultureInfo.InvariantCulture, out int parent)
                || !int.TryParse(f[parts[2]], NumberStyles.None, CultureInfo.InvariantCulture, out int group)
                || !int.TryParse(f[parts[3]], NumberStyles.None, CultureInfo.InvariantCulture, out int session)) continue;
            procs[pid] = new Entry(f[parts[0]][0], parent, group, session);
        }
        return procs;
    }

    /// <summary>
    /// The live (not zombie) processes that belong to <paramref name="root"/>, root excluded: those in its session or
    /// process group and, when <paramref name="descendants"/> (only while root has not been reaped, so its pid is still
    /// its own), every descendant.
    /// </summary>
    public static HashSet<int> Members(Dictionary<int, Entry> procs, int root, bool descendants)
    {
        var found = new HashSet<int>();
        foreach (var (pid, e) in procs)
            if (e.Session == root || e.Group == root) found.Add(pid);
        if (descendants)
        {
            var children = new Dictionary<int, List<int>>();
            foreach (var (pid, e) in procs)
            {
                if (!children.TryGetValue(e.Parent, out var list)) children[e.Parent] = list = [];
                list.Add(pid);
            }
            var visited = new HashSet<int> { root };
            var stack = new Stack<int>();
            stack.Push(root);
            while (stack.Count > 0)
                if (children.TryGetValue(stack.Pop(), out var kids))
                    foreach (int c in kids)
                        if (visited.Add(c))
                        {
                            found.Add(c);
                            stack.Push(c);
                        }
        }
        found.Remove(root);
        found.RemoveWhere(pid => procs[pid].State is 'Z' or 'X');
        return found;
    }

    /// <summary>How many live processes run under <paramref name="p"/> (Linux; 0 elsewhere).</summary>
    public static int Count(Process p) => OperatingSystem.IsLinux() ? Members(Scan(), p.Id, descendants: !p.HasExited).Count : 0;

    /// <summary>
    /// Kills <paramref name="p"/> and everything under it. On Linux the root's process group is stopped first (so the
    /// driver neither reaps nor forks), then rounds of /proc scans kill what they find, each escaped process group as a
    /// whole (a group signal also reaches a member that is forking at that moment), until a scan finds nothing.
    /// </summary>
    public static void KillAll(Process p)
    {
        int root = p.Id;
        bool alive;
        try { alive = !p.HasExited; } catch (InvalidOperationException) { alive = false; }
        if (!OperatingSystem.IsWindows())
        {
            if (OperatingSystem.IsLinux())
            {
                if (alive)
                {
                    Signal(-root, SigStop);
                    Signal(root, SigStop);
                }
                var sw = Stopwatch.StartNew();
                for (int round = 0; round < 100 && sw.ElapsedMilliseconds < 3000; round++)
                {
                    var procs = Scan();
                    var targets = Members(procs, root, descendants: alive);
                    if (targets.Count == 0) break;
                    foreach (int group in targets.Select(t => procs[t].Group).Where(g => g != root && targets.Contains(g)).Distinct())
                        Signal(-group, SigKill);
                    foreach (int t in targets) Signal(t, SigKill);
                }
            }
            Signal(-root, SigKill); // the group, root included if it leads it; no such group: nothing happens
        }
        try { if (!p.HasExited) p.Kill(entireProcessTree: true); }
        catch (InvalidOperationException) { }
        catch (System.ComponentModel.Win32Exception) { }
    }

    private static void Signal(int pid, int signal)
    {
        // Errors (ESRCH: gone; EPERM: not ours) leave nothing to do.
        try { _ = SysKill(pid, signal); }
        catch (DllNotFoundException) { }
        catch (EntryPointNotFoundException) { }
    }
}
