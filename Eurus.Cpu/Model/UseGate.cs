namespace Eurus.Cpu.Model;

/// <summary>
/// Guards memory that a forward pass reads through pointers (mapped weights, repacked matrices, native scratch)
/// against being freed under it: every pass enters before it touches the memory and leaves after; <see cref="Close"/>
/// shuts the gate to new passes and waits for those inside to leave, so disposing a model or a session while another
/// thread generates either waits for the current step or makes the next one throw <see cref="ObjectDisposedException"/>,
/// never a read of freed memory. Entering and leaving are one interlocked operation each (nothing is allocated).
/// </summary>
internal sealed class UseGate
{
    private const int ClosedBit = int.MinValue;
    private int _state; // passes inside, with the sign bit set once closed

    /// <summary>Whether <see cref="Close"/> has been called.</summary>
    public bool IsClosed => Volatile.Read(ref _state) < 0;

    /// <summary>Enters, or throws <see cref="ObjectDisposedException"/> naming <paramref name="owner"/> when closed.</summary>
    public void Enter(object owner)
    {
        int s = Volatile.Read(ref _state);
        while (true)
        {
            if (s < 0) throw new ObjectDisposedException(owner.GetType().FullName);
            int seen = Interlocked.CompareExchange(ref _state, s + 1, s);
            if (seen == s) return;
            s = seen;
        }
    }

    /// <summary>Leaves (after a successful <see cref="Enter"/>).</summary>
    public void Exit() => Interlocked.Decrement(ref _state);

    /// <summary>
    /// Closes the gate and waits until every pass inside has left. Returns false (without waiting) when it was already
    /// closed. Must not be called from inside a pass (it would wait for itself).
    /// </summary>
    public bool Close()
    {
        int s = Volatile.Read(ref _state);
        while (true)
        {
            if (s < 0) return false;
            int seen = Interlocked.CompareExchange(ref _state, s | ClosedBit, s);
            if (seen == s) break;
            s = seen;
        }
        var spin = new SpinWait();
        while (Volatile.Read(ref _state) != ClosedBit) spin.SpinOnce(); // sleeps after a few spins: a pass step can take seconds
        return true;
    }
}
