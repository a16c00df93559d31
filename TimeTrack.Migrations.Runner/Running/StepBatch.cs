namespace TimeTrack.Migrations.Runner.Running;

/// <summary>
/// A processor that can hold a step's statements and send them in one round trip
/// (<see cref="StepExecutor"/>: the step's SET LOCALs and statements go with its BEGIN).
/// </summary>
public interface IStepBatching
{
    /// <summary>From now on, statements are held instead of sent.</summary>
    void Hold();

    /// <summary>Sends what is held, as one command, and goes on holding.</summary>
    void Send();

    /// <summary>Sends what is held and stops holding.</summary>
    void Release();

    /// <summary>Forgets what is held (the step failed) and stops holding.</summary>
    void Discard();
}

/// <summary>The statements a step holds, in order, and their text as one command.</summary>
public sealed class StepBatch
{
    private List<string>? _held;

    public bool Holding => _held is not null;

    public void Hold() => _held = [];

    public void Add(string statement) => _held!.Add(statement);

    /// <summary>
    /// The held statements as one command's text, emptied (null when none). The separator is on a
    /// line of its own: a statement that ends in a -- comment must not swallow it.
    /// </summary>
    public string? Take()
    {
        if (_held is not { Count: > 0 } held)
        {
            return null;
        }

        var text = held.Count == 1 ? held[0] : string.Join("\n;\n", held);
        held.Clear();
        return text;
    }

    public void Release() => _held = null;

    public void Discard() => _held = null;
}
