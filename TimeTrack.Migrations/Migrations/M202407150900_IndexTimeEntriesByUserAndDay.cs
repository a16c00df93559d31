using FluentMigrator;

namespace TimeTrack.Migrations.Migrations;

/// <summary>
/// On PostgreSQL the index is built CONCURRENTLY, so a large time_entries table stays writable
/// while it builds. That statement cannot run inside a transaction, hence
/// <see cref="TransactionBehavior.None"/>: each statement commits on its own. When the runner
/// builds an expected schema (everything in one transaction that is rolled back, on a scratch
/// table with no rows) the plain form builds the same index.
/// </summary>
[Migration(202407150900, TransactionBehavior.None, "Index time entries by user and day")]
public sealed class M202407150900_IndexTimeEntriesByUserAndDay : TimeTrackMigration
{
    private const string IndexName = "ix_time_entries_user_arrival";

    public override void Up()
    {
        // Not in a transaction, so a run that was killed can leave the index behind without
        // its version row: INVALID if CREATE INDEX CONCURRENTLY was interrupted, complete if the
        // kill came just after it. This migration is not recorded, so whatever index has this
        // name is such a leftover; drop it and build it again.
        if (IsSqlite || InOneTransaction)
        {
            Execute.Sql($"DROP INDEX IF EXISTS {IndexName}");
            Execute.Sql($"CREATE INDEX {IndexName} ON time_entries (user_id, arrival_time)");
        }
        else
        {
            Execute.Sql($"DROP INDEX CONCURRENTLY IF EXISTS {IndexName}");
            Execute.Sql($"CREATE INDEX CONCURRENTLY {IndexName} ON time_entries (user_id, arrival_time)");
        }
    }

    public override void Down()
    {
        Execute.Sql(IsSqlite || InOneTransaction ? $"DROP INDEX IF EXISTS {IndexName}" : $"DROP INDEX CONCURRENTLY IF EXISTS {IndexName}");
    }
}
