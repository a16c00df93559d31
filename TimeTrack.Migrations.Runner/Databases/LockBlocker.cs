using System.Globalization;

namespace TimeTrack.Migrations.Runner.Databases;

/// <summary>
/// Another session that a migration step waits for (it holds or queues for a lock the step
/// needs), as the database describes it. Never its query text: that can carry literal values.
/// </summary>
/// <param name="TransactionAge">How long its transaction has been open; null when it is in none.</param>
/// <param name="Hidden">The database hides its state and transaction from this role (another role's session, and no pg_read_all_stats).</param>
public sealed record LockBlocker(int ProcessId, string? ApplicationName, string? User, string? State, TimeSpan? TransactionAge, bool Hidden = false)
{
    public string Describe()
    {
        var parts = new List<string> { $"application '{ApplicationName ?? ""}'" };
        if (!string.IsNullOrEmpty(User))
        {
            parts.Add($"user {User}");
        }

        if (!string.IsNullOrEmpty(State))
        {
            parts.Add(State);
        }

        if (Hidden)
        {
            parts.Add("its state and query hidden from this role");
        }

        if (TransactionAge is { } age)
        {
            parts.Add($"transaction open {age.TotalSeconds.ToString("0", CultureInfo.InvariantCulture)} s");
        }

        return $"pid {ProcessId} ({string.Join(", ", parts)})";
    }

    public static string Describe(IReadOnlyList<LockBlocker> blockers) => string.Join("; ", blockers.Select(b => b.Describe()));
}
