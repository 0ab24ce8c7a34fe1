using Eurus.Cpu.Tokenization;

namespace Eurus.Cpu.Grammars;

/// <summary>
/// One generation's place in its grammar: the automaton state after the tokens generated so far. Gives the allowed
/// tokens (a cached mask per state), checks one token cheaply (for greedy decoding, which tries the best token first),
/// and advances by the chosen token. Allocates nothing once the states it meets are cached.
/// </summary>
internal sealed class GrammarConstraint
{
    private readonly GrammarAutomaton _automaton;
    private readonly TokenTrie _trie;
    private int _state;

    public GrammarConstraint(Grammar grammar, Tokenizer tokenizer)
    {
        _automaton = grammar.Automaton;
        _trie = TokenTrie.For(tokenizer);
        _state = _automaton.Start;
    }

    /// <summary>
    /// The automaton state (an int): saved and restored around a speculative draft, which walks the grammar through its
    /// tokens without moving the generation's place.
    /// </summary>
    public int State
    {
        get => _state;
        set => _state = value;
    }

    /// <summary>The end of sequence token.</summary>
    public int Eos => _trie.Eos;

    /// <summary>Starts again from the beginning of the grammar.</summary>
    public void Reset() => _state = _automaton.Start;

    /// <summary>Whether the text so far is a whole sentence of the grammar (the end of sequence is allowed).</summary>
    public bool CanEnd => _automaton.IsAccepting(_state);

    /// <summary>The tokens allowed next (the end of sequence among them where the grammar can end).</summary>
    public TokenMask Allowed()
    {
        var mask = _automaton.MaskFor(_trie, _state);
        if (mask.Count == 0)
            throw new GrammarException("no token of the vocabulary can continue the grammar here (the grammar needs text the vocabulary cannot spell)");
        return mask;
    }

    /// <summary>Whether <paramref name="token"/> may come next.</summary>
    public bool Allows(int token) =>
        token == _trie.Eos ? CanEnd : _automaton.AfterToken(_trie, _state, token) >= 0;

    /// <summary>Moves past <paramref name="token"/> (which must be allowed; the end of sequence is not passed here).</summary>
    public void Accept(int token)
    {
        int next = _automaton.AfterToken(_trie, _state, token);
        if (next < 0) throw new InvalidOperationException($"token {token} is not allowed by the grammar here");
        _state = next;
    }
}
