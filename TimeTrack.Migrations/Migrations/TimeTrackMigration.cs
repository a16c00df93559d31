using FluentMigrator;

namespace TimeTrack.Migrations.Migrations;

/// <summary>
/// Base class of every TimeTrack migration. It tells a migration which database it is
/// running against, so one <c>Create.Table</c> chain can serve PostgreSQL and SQLite and
/// only the pieces that really differ (column types, enum types) branch.
/// </summary>
public abstract class TimeTrackMigration : Migration
{
    /// <summary>True when the runner targets SQLite (evaluated while Up/Down build expressions).</summary>
    protected bool IsSqlite
    {
        get
        {
            var sqlite = false;
            IfDatabase(ProcessorIdConstants.SQLite).Delegate(() => sqlite = true);
            return sqlite;
        }
    }

    /// <summary>Column type spellings of the current database.</summary>
    protected SqlTypes Sql => IsSqlite ? SqlTypes.Sqlite : SqlTypes.Postgres;

    /// <summary>A native enum type on PostgreSQL; nothing on SQLite (the column carries a CHECK).</summary>
    protected void CreateEnumType(string name, IReadOnlyList<string> values) =>
        IfDatabase(ProcessorIdConstants.PostgreSQL).Execute.Sql(
            $"CREATE TYPE {SqlTypes.QuoteIdentifier(name)} AS ENUM ({SqlTypes.QuoteLiterals(values)})");

    protected void DropEnumType(string name) =>
        IfDatabase(ProcessorIdConstants.PostgreSQL).Execute.Sql($"DROP TYPE {SqlTypes.QuoteIdentifier(name)}");
}
