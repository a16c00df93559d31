namespace TimeTrack.Migrations.StampingProfiles;

/// <summary>
/// A schema state a database can be in without any migration history, and the version of the
/// history that state corresponds to. `init` recognises such a database, checks it against the
/// schema the migrations up to <see cref="Version"/> produce (never a hand-kept list), records
/// that version as applied, then applies what came after.
/// </summary>
/// <remarks>To add one: a sealed class deriving from this one, in this folder. The runner finds it.</remarks>
public abstract class StampingProfile
{
    /// <summary>What operators pass to --profile.</summary>
    public abstract string Name { get; }

    /// <summary>The migration whose resulting schema this state is.</summary>
    public abstract long Version { get; }

    /// <summary>One line for the log: where such databases come from.</summary>
    public abstract string Description { get; }
}
