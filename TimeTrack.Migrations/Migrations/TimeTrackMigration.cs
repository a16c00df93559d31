using FluentMigrator;
using FluentMigrator.Builders.Create.Table;
using FluentMigrator.Infrastructure;

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

    /// <summary>
    /// True while the runner builds an expected schema (<see cref="ExpectedSchemaBuild"/>): every
    /// step runs in one transaction, so a step that needs to run outside one must use its
    /// transactional form. Set while Up/Down build expressions.
    /// </summary>
    protected bool InOneTransaction { get; private set; }

    public override void GetUpExpressions(IMigrationContext context)
    {
        InOneTransaction = context.ServiceProvider.GetService(typeof(ExpectedSchemaBuild)) is not null;
        base.GetUpExpressions(context);
    }

    public override void GetDownExpressions(IMigrationContext context)
    {
        InOneTransaction = context.ServiceProvider.GetService(typeof(ExpectedSchemaBuild)) is not null;
        base.GetDownExpressions(context);
    }

    /// <summary>Column type spellings of the current database.</summary>
    protected SqlTypes Sql => IsSqlite ? SqlTypes.Sqlite : SqlTypes.Postgres;

    /// <summary>A native enum type on PostgreSQL; nothing on SQLite (the column carries a CHECK).</summary>
    protected void CreateEnumType(string name, IReadOnlyList<string> values) =>
        IfDatabase(ProcessorIdConstants.PostgreSQL).Execute.Sql(
            $"CREATE TYPE {SqlTypes.QuoteIdentifier(name)} AS ENUM ({SqlTypes.QuoteLiterals(values)})");

    protected void DropEnumType(string name) =>
        IfDatabase(ProcessorIdConstants.PostgreSQL).Execute.Sql($"DROP TYPE {SqlTypes.QuoteIdentifier(name)}");

    /// <summary>
    /// Appends values to a PostgreSQL enum type (nothing on SQLite, where the CHECK lives in the
    /// table: rebuild it). A value added here cannot be used in the same transaction.
    /// </summary>
    protected void AddEnumValues(string name, IReadOnlyList<string> values)
    {
        foreach (var value in values)
        {
            IfDatabase(ProcessorIdConstants.PostgreSQL).Execute.Sql(
                $"ALTER TYPE {SqlTypes.QuoteIdentifier(name)} ADD VALUE IF NOT EXISTS {SqlTypes.QuoteLiteral(value)}");
        }
    }

    /// <summary>
    /// Gives a PostgreSQL enum type a new list of values (removed or reordered ones): a new type,
    /// every column cast over to it, the old one dropped. Fails, and rolls back, if a row holds a
    /// value that no longer exists. Nothing on SQLite.
    /// </summary>
    /// <param name="usages">Every column of the type, with its default value (or null).</param>
    protected void ReplaceEnumType(string name, IReadOnlyList<string> values, params (string Table, string Column, string? Default)[] usages)
    {
        var type = SqlTypes.QuoteIdentifier(name);
        var old = SqlTypes.QuoteIdentifier(name + "__old");
        var postgres = IfDatabase(ProcessorIdConstants.PostgreSQL).Execute;
        postgres.Sql($"ALTER TYPE {type} RENAME TO {old}");
        postgres.Sql($"CREATE TYPE {type} AS ENUM ({SqlTypes.QuoteLiterals(values)})");
        foreach (var (table, column, @default) in usages)
        {
            var t = SqlTypes.QuoteIdentifier(table);
            var c = SqlTypes.QuoteIdentifier(column);
            postgres.Sql($"ALTER TABLE {t} ALTER COLUMN {c} DROP DEFAULT");
            postgres.Sql($"ALTER TABLE {t} ALTER COLUMN {c} TYPE {type} USING {c}::text::{type}");
            if (@default is not null)
            {
                postgres.Sql($"ALTER TABLE {t} ALTER COLUMN {c} SET DEFAULT {SqlTypes.QuoteLiteral(@default)}");
            }
        }

        postgres.Sql($"DROP TYPE {old}");
    }

    /// <summary>
    /// An index on a table in use, built without blocking its writes: CREATE INDEX CONCURRENTLY on
    /// PostgreSQL, which cannot run in a transaction, so the migration must be declared
    /// <see cref="TransactionBehavior.None"/> (as M202407150900 is). A leftover of an interrupted run
    /// (an INVALID index, or a complete one without the version row) is dropped first. SQLite, and
    /// the runner's expected-schema build (<see cref="InOneTransaction"/>), use the plain form.
    /// </summary>
    /// <param name="descending">The columns sorted descending.</param>
    protected void CreateIndexConcurrently(string name, string table, IReadOnlyList<string> columns, IReadOnlyList<string>? descending = null, bool unique = false)
    {
        var keys = string.Join(", ", columns.Select(c => SqlTypes.QuoteIdentifier(c) + (descending?.Contains(c) == true ? " DESC" : "")));
        var index = SqlTypes.QuoteIdentifier(name);
        var on = $"ON {SqlTypes.QuoteIdentifier(table)} ({keys})";
        if (IsSqlite || InOneTransaction)
        {
            Execute.Sql($"DROP INDEX IF EXISTS {index}");
            Execute.Sql($"CREATE {(unique ? "UNIQUE " : "")}INDEX {index} {on}");
            return;
        }

        RequireNoTransaction(nameof(CreateIndexConcurrently));
        Execute.Sql($"DROP INDEX CONCURRENTLY IF EXISTS {index}");
        Execute.Sql($"CREATE {(unique ? "UNIQUE " : "")}INDEX CONCURRENTLY {index} {on}");
    }

    /// <summary>
    /// A foreign key on a table in use (PostgreSQL; SQLite adds it by rebuilding the table):
    /// added NOT VALID (a short lock, no scan), then validated in its own statement, which scans
    /// the rows under a lock that lets writes go on. The two only help when each commits on its own,
    /// so the migration must be declared <see cref="TransactionBehavior.None"/>. A rerun after an
    /// interruption drops a leftover constraint of that name first.
    /// </summary>
    protected void AddForeignKeyNotValid(string name, string table, IReadOnlyList<string> columns, string referencedTable, IReadOnlyList<string> referencedColumns,
        System.Data.Rule onDelete = System.Data.Rule.None)
    {
        if (IsSqlite)
        {
            return;
        }

        if (!InOneTransaction)
        {
            RequireNoTransaction(nameof(AddForeignKeyNotValid));
        }

        var t = SqlTypes.QuoteIdentifier(table);
        var constraint = SqlTypes.QuoteIdentifier(name);
        var action = onDelete switch
        {
            System.Data.Rule.Cascade => " ON DELETE CASCADE",
            System.Data.Rule.SetNull => " ON DELETE SET NULL",
            System.Data.Rule.SetDefault => " ON DELETE SET DEFAULT",
            _ => "",
        };
        Execute.Sql($"ALTER TABLE {t} DROP CONSTRAINT IF EXISTS {constraint}");
        Execute.Sql($"ALTER TABLE {t} ADD CONSTRAINT {constraint} FOREIGN KEY ({string.Join(", ", columns.Select(SqlTypes.QuoteIdentifier))}) " +
            $"REFERENCES {SqlTypes.QuoteIdentifier(referencedTable)} ({string.Join(", ", referencedColumns.Select(SqlTypes.QuoteIdentifier))}){action} NOT VALID");
        Execute.Sql($"ALTER TABLE {t} VALIDATE CONSTRAINT {constraint}");
    }

    private void RequireNoTransaction(string helper)
    {
        var behavior = (GetType().GetCustomAttributes(typeof(MigrationAttribute), inherit: false).FirstOrDefault() as MigrationAttribute)?.TransactionBehavior;
        if (behavior != TransactionBehavior.None)
        {
            throw new InvalidOperationException(
                $"{GetType().Name} uses {helper}, which must not run in a transaction: declare it [Migration(version, TransactionBehavior.None, \"...\")]");
        }
    }

    /// <summary>
    /// SQLite cannot change a column, a key or a CHECK in place: build the table anew under a
    /// temporary name, copy the rows of <paramref name="copyColumns"/>, drop the old table and
    /// rename the new one (SQLite's documented procedure). The runner migrates SQLite with foreign
    /// key enforcement off, as that procedure needs; before the transaction commits, the rebuild
    /// checks every foreign key and fails, rolling everything back, if one points nowhere.
    /// Indexes and unique constraints go with the old table: create them again afterwards.
    /// Only on SQLite.
    /// </summary>
    protected void RebuildSqliteTable(string table, IReadOnlyList<string> copyColumns, Action<ICreateTableWithColumnSyntax> define)
    {
        if (!IsSqlite)
        {
            return;
        }

        var temporary = table + "__rebuild";
        var columns = string.Join(", ", copyColumns.Select(SqlTypes.QuoteIdentifier));
        define(Create.Table(temporary));
        Execute.Sql($"INSERT INTO {SqlTypes.QuoteIdentifier(temporary)} ({columns}) SELECT {columns} FROM {SqlTypes.QuoteIdentifier(table)}");
        Delete.Table(table);
        Rename.Table(temporary).To(table);
        Execute.Sql("CREATE TEMP TABLE timetrack_fk_guard (violations INTEGER CONSTRAINT foreign_keys_still_valid CHECK (violations = 0))");
        Execute.Sql("INSERT INTO timetrack_fk_guard SELECT count(*) FROM pragma_foreign_key_check");
        Execute.Sql("DROP TABLE timetrack_fk_guard");
    }
}
