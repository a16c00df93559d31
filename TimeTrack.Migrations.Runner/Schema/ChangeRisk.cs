namespace TimeTrack.Migrations.Runner.Schema;

/// <summary>
/// What can go wrong when a change is applied to a database in use, judged for PostgreSQL (where
/// production runs). Each change kind sets its flags from what it changes
/// (<see cref="SchemaChange.Risk"/>); the generator turns them into REVIEW lines and warnings, and
/// the migration lint (issue 13) reads the same flags, so the judgement lives in one place.
/// </summary>
/// <remarks>
/// Lock levels are PostgreSQL's (the "Explicit Locking" chapter of its manual). SQLite rebuilds a
/// table for most changes; the generator says so where it writes the rebuild, and SQLite's locks
/// are the whole database's anyway.
/// </remarks>
[Flags]
public enum ChangeRisk
{
    None = 0,

    /// <summary>
    /// Data is gone and Down cannot bring it back: a dropped table or column, a removed enum value,
    /// digits rounded away by a smaller numeric scale, a dropped sequence's position.
    /// </summary>
    LosesData = 1 << 0,

    /// <summary>
    /// Fails (and rolls back) when existing rows do not fit: NOT NULL without a default, a new key,
    /// unique, check or foreign key the data violates, values that do not convert to a new type.
    /// </summary>
    FailsOnExistingRows = 1 << 1,

    /// <summary>Writes every row again (most type changes): time and disk space grow with the table.</summary>
    RewritesTable = 1 << 2,

    /// <summary>
    /// Holds a lock that stops writes (or reads and writes) for as long as it scans or builds:
    /// ACCESS EXCLUSIVE for a type change, SET NOT NULL or a new check or primary key; SHARE for
    /// CREATE INDEX without CONCURRENTLY; SHARE ROW EXCLUSIVE on both tables for a foreign key.
    /// </summary>
    LongLock = 1 << 3,

    /// <summary>
    /// What it adds cannot be used before the transaction commits: a value added to an enum type
    /// (PostgreSQL refuses it as a default or in data in the same migration).
    /// </summary>
    UsableAfterCommit = 1 << 4,
}

public static class ChangeRisks
{
    /// <summary>The flags as a sentence for a REVIEW line: "loses data; rewrites the table".</summary>
    public static string Explain(ChangeRisk risk) => string.Join("; ", Enum.GetValues<ChangeRisk>()
        .Where(flag => flag != ChangeRisk.None && risk.HasFlag(flag))
        .Select(flag => flag switch
        {
            ChangeRisk.LosesData => "loses data that Down cannot bring back",
            ChangeRisk.FailsOnExistingRows => "fails if existing rows do not fit",
            ChangeRisk.RewritesTable => "rewrites the whole table",
            ChangeRisk.LongLock => "blocks writes to the table while it scans or builds",
            ChangeRisk.UsableAfterCommit => "what it adds is usable only after the migration commits",
            _ => flag.ToString(),
        }));
}
