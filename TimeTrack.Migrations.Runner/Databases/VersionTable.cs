using System.Data.Common;
using System.Globalization;

namespace TimeTrack.Migrations.Runner.Databases;

/// <summary>
/// One row of the version table: what was applied, when, and — since the runner records it — the
/// migration's checksum, who applied it, and its Down as SQL, so that an older image can undo it.
/// </summary>
/// <param name="Checksum">This build's checksum of the migration as applied on the provider (null: not recorded).</param>
/// <param name="DownSql">The statements that undo it (a JSON list), captured when it was applied; null when not captured.</param>
/// <param name="DownNotCaptured">Why the Down could not be captured (it runs code, or throws); null when it was, or when nothing was recorded.</param>
public sealed record AppliedVersion(long Version, DateTime? AppliedOn, string? Description)
{
    public string? Checksum { get; init; }
    public string? RunnerVersion { get; init; }
    public string? ImageRevision { get; init; }
    public string? AppliedByHost { get; init; }
    public string? AppliedByUser { get; init; }
    public long? DurationMs { get; init; }
    public string? DownSql { get; init; }

    /// <summary>The recorded Down statements; parsed on demand (the restart path never needs them).</summary>
    public IReadOnlyList<string>? Down => DownSql is null ? null : System.Text.Json.JsonSerializer.Deserialize(DownSql, VersionTableJson.Default.IReadOnlyListString);
    public bool DownInTransaction { get; init; } = true;
    public string? DownNotCaptured { get; init; }

    /// <summary>True when the row has the recorded-history columns filled (written by a runner that records them).</summary>
    public bool HasRecord => Checksum is not null;
}

/// <summary>What the runner records with a step's version row.</summary>
/// <param name="Provenance">Who applied it; null in an update: keep the row's (stamp --repair).</param>
public sealed record StepRecord(
    string Checksum,
    Provenance? Provenance,
    long? DurationMs,
    IReadOnlyList<string>? Down,
    bool DownInTransaction,
    string? DownNotCaptured);

/// <summary>Who applies: the runner's version, the image revision it was built from, the host and the database user.</summary>
public sealed record Provenance(string RunnerVersion, string? ImageRevision, string? Host, string? DatabaseUser);

/// <summary>
/// The version table: its name, its columns, and every statement that creates, upgrades, reads,
/// records and deletes in it. The only place that knows them: a new column is one change here.
/// The first three columns and the unique index are FluentMigrator's own layout (VersionInfo with
/// Version, AppliedOn, Description and UC_Version), so databases migrated before, by this runner
/// or by FluentMigrator, need no conversion; the recorded-history columns after them are added by
/// the runner, under the migration lock, the first time it meets a table without them
/// (<see cref="UpgradeAsync"/>). Older runners keep working against the upgraded table: they
/// read and write only the first three columns.
/// </summary>
/// <remarks>
/// Statements that record a step are rendered as SQL text (no parameters), because the step
/// executor runs them through FluentMigrator's processor inside the step's transaction, and
/// <c>script</c> prints them as part of the preview.
/// </remarks>
public sealed partial class VersionTable(DatabaseProvider provider)
{
    public const string Name = VersionTableLayout.Name;

    private static IReadOnlyList<VersionTableLayout.Column> RecordColumns => VersionTableLayout.RecordColumns;

    private static IReadOnlyList<VersionTableLayout.Column> Columns => VersionTableLayout.Columns;

    private string Table => provider.QualifiedTableName(Name);

    private string Definition(VersionTableLayout.Column c) => $"\"{c.Name}\" {provider.ColumnType(c.Type)}{(c.Nullable ? "" : " NOT NULL")}";

    /// <summary>The statements that create the table and its unique index.</summary>
    public IReadOnlyList<string> CreateStatements() =>
    [
        $"CREATE TABLE {Table} ({string.Join(", ", Columns.Select(Definition))});",
        $"CREATE UNIQUE INDEX \"UC_Version\" ON {Table} (\"Version\" ASC);",
    ];

    /// <summary>
    /// The step's duration as the server measures it when the row is written in the step's own
    /// transaction: from its BEGIN (which goes out with the step's statements) to now. It lets the
    /// row go in the same round trip as the statements. Null where the database has no such clock
    /// (SQLite: the runner measures, and there are no round trips to save).
    /// </summary>
    public string? TransactionDuration => provider.Kind == DatabaseKind.Postgres
        ? "(EXTRACT(EPOCH FROM clock_timestamp() - transaction_timestamp()) * 1000)::bigint"
        : null;

    /// <summary>The row of a step that was applied, with its record (null: FluentMigrator's three columns only).</summary>
    /// <param name="durationSql">An expression that gives the duration (<see cref="TransactionDuration"/>) instead of the record's.</param>
    public string RecordStatement(long version, string description, DateTime appliedOnUtc, StepRecord? record, string? durationSql = null)
    {
        var values = new List<(string Column, string Value)>
        {
            ("Version", version.ToString(CultureInfo.InvariantCulture)),
            ("AppliedOn", Literal(appliedOnUtc.ToString("yyyy-MM-ddTHH:mm:ss.fff", CultureInfo.InvariantCulture))),
            ("Description", Literal(description)),
        };
        if (record is not null)
        {
            values.AddRange(RecordValues(record).Select(v => durationSql is not null && v.Column == "DurationMs" ? (v.Column, durationSql) : v));
        }

        return $"INSERT INTO {Table} ({string.Join(", ", values.Select(v => $"\"{v.Column}\""))}) VALUES ({string.Join(", ", values.Select(v => v.Value))});";
    }

    /// <summary>Fills the record of a row applied before it was kept (or replaces it: stamp --repair).</summary>
    public string UpdateRecordStatement(long version, StepRecord record) =>
        $"UPDATE {Table} SET {string.Join(", ", RecordValues(record).Where(v => record.Provenance is not null || !ProvenanceColumns.Contains(v.Column)).Select(v => $"\"{v.Column}\" = {v.Value}"))} " +
        $"WHERE \"Version\" = {version.ToString(CultureInfo.InvariantCulture)};";

    private static readonly string[] ProvenanceColumns = ["RunnerVersion", "ImageRevision", "AppliedByHost", "AppliedByUser", "DurationMs"];

    private static IEnumerable<(string Column, string Value)> RecordValues(StepRecord record) =>
    [
        ("Checksum", Literal(record.Checksum)),
        ("RunnerVersion", Literal(record.Provenance?.RunnerVersion)),
        ("ImageRevision", Literal(record.Provenance?.ImageRevision)),
        ("AppliedByHost", Literal(record.Provenance?.Host)),
        ("AppliedByUser", Literal(record.Provenance?.DatabaseUser)),
        ("DurationMs", record.DurationMs?.ToString(CultureInfo.InvariantCulture) ?? "NULL"),
        ("DownSql", Literal(record.Down is null ? null : System.Text.Json.JsonSerializer.Serialize(record.Down, VersionTableJson.Readable.IReadOnlyListString))),
        ("DownInTransaction", record.DownInTransaction ? "1" : "0"),
        ("DownNotCaptured", Literal(record.DownNotCaptured)),
    ];

    public string DeleteStatement(long version) =>
        $"DELETE FROM {Table} WHERE \"Version\" = {version.ToString(CultureInfo.InvariantCulture)};";

    private static string Literal(string? text) => text is null ? "NULL" : "'" + text.Replace("'", "''", StringComparison.Ordinal) + "'";

    /// <summary>True when the table exists (checked in the catalog, never by creating it).</summary>
    public static Task<bool> ExistsAsync(Database database, CancellationToken cancel) => database.HasTableAsync(Name, cancel);

    /// <summary>
    /// The applied migrations, oldest first; empty when the table does not exist. One query, of
    /// every column there is: a table without the recorded-history columns reads with them empty.
    /// </summary>
    public static async Task<IReadOnlyList<AppliedVersion>> ReadAsync(Database database, CancellationToken cancel) =>
        (await ReadWithLayoutAsync(database, cancel)).Rows;

    /// <summary>The rows, and whether the table has every recorded-history column.</summary>
    public static async Task<(IReadOnlyList<AppliedVersion> Rows, bool Complete)> ReadWithLayoutAsync(Database database, CancellationToken cancel)
    {
        if (!await ExistsAsync(database, cancel))
        {
            return ([], false);
        }

        await using var command = database.DbConnection.CreateCommand();
        // Sorted here, not by the query: a table without its "Version" column must read, to be refused by name.
        command.CommandText = $"SELECT * FROM {database.Provider.QualifiedTableName(Name)}";
        await using var reader = await command.ExecuteReaderAsync(cancel);
        var ordinals = Enumerable.Range(0, reader.FieldCount).ToDictionary(reader.GetName, i => i, StringComparer.OrdinalIgnoreCase);
        VersionTableDamage.RefuseMissingColumns(VersionTableLayout.FluentMigratorColumns.Select(c => c.Name).Where(c => !ordinals.ContainsKey(c)).ToList());
        var result = new List<AppliedVersion>();
        while (await reader.ReadAsync(cancel))
        {
            result.Add(VersionTableDamage.ReadRow(reader, ordinals, version => new AppliedVersion(
                version,
                reader.IsDBNull(ordinals["AppliedOn"]) ? null : reader.GetDateTime(ordinals["AppliedOn"]),
                Text(reader, ordinals, "Description"))
            {
                Checksum = Text(reader, ordinals, "Checksum"),
                RunnerVersion = Text(reader, ordinals, "RunnerVersion"),
                ImageRevision = Text(reader, ordinals, "ImageRevision"),
                AppliedByHost = Text(reader, ordinals, "AppliedByHost"),
                AppliedByUser = Text(reader, ordinals, "AppliedByUser"),
                DurationMs = ordinals.TryGetValue("DurationMs", out var d) && !reader.IsDBNull(d) ? reader.GetInt64(d) : null,
                DownSql = Text(reader, ordinals, "DownSql"),
                DownInTransaction = !ordinals.TryGetValue("DownInTransaction", out var t) || reader.IsDBNull(t) || reader.GetInt64(t) != 0,
                DownNotCaptured = Text(reader, ordinals, "DownNotCaptured"),
            }));
        }

        VersionTableDamage.RefuseDuplicates(result);
        return (result.OrderBy(r => r.Version).ToList(), RecordColumns.All(c => ordinals.ContainsKey(c.Name)));
    }

    private static string? Text(DbDataReader reader, Dictionary<string, int> ordinals, string column) =>
        ordinals.TryGetValue(column, out var i) && !reader.IsDBNull(i) ? reader.GetString(i) : null;

    /// <summary>
    /// Creates the table when it is missing, and adds the recorded-history columns a table made by
    /// FluentMigrator or an older runner lacks, on the runner's own connection (the caller holds
    /// the migration lock). Returns the names of the columns added.
    /// </summary>
    public async Task<IReadOnlyList<string>> UpgradeAsync(Database database, CancellationToken cancel)
    {
        var (statements, added) = await UpgradeStatementsAsync(database, cancel);
        try
        {
            if (statements.Count > 0)
            {
                await ExecuteInTransactionAsync(database, statements, cancel);
            }
        }
        catch (DbException e) when (added.Count > 0 && provider.IsPrivilegeDenied(e))
        {
            // Adding columns needs the table's owner: the first write of any run, in its own transaction.
            var role = database.Target.Role ?? database.User;
            throw new Output.UserError(Output.ExitCode.Refused,
                $"role '{role}' may not add the columns of the recorded history to the version table {Name}, which an older runner made and " +
                $"another role owns ({Output.LogLine.Printable(e.Message.Split('\n')[0], oneLine: true)}). Nothing was written: give the table to " +
                $"this role (deploy/roles.sql does, or its owner runs ALTER TABLE \"{Name}\" OWNER TO {role}), or run once as its owner", e);
        }

        return added;
    }

    /// <summary>The log line of an upgrade that added <paramref name="columns"/>.</summary>
    public static string UpgradeMessage(IReadOnlyList<string> columns) =>
        $"the version table gained the columns of the recorded history ({string.Join(", ", columns)}); older runners keep working with it";

    /// <summary>What <see cref="UpgradeAsync"/> would run (also printed by <c>script</c>), and the columns it adds.</summary>
    public async Task<(IReadOnlyList<string> Statements, IReadOnlyList<string> AddedColumns)> UpgradeStatementsAsync(Database database, CancellationToken cancel)
    {
        if (!await ExistsAsync(database, cancel))
        {
            return (CreateStatements(), []);
        }

        await using var command = database.DbConnection.CreateCommand();
        command.CommandText = $"SELECT * FROM {Table} WHERE 1 = 0";
        var present = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        await using (var reader = await command.ExecuteReaderAsync(cancel))
        {
            for (var i = 0; i < reader.FieldCount; i++)
            {
                present.Add(reader.GetName(i));
            }
        }

        var missing = RecordColumns.Where(c => !present.Contains(c.Name)).ToList();
        return (missing.Select(c => $"ALTER TABLE {Table} ADD COLUMN {Definition(c)};").ToList(), missing.Select(c => c.Name).ToList());
    }

    /// <summary>
    /// Records <paramref name="record"/> and deletes <paramref name="remove"/> in one transaction,
    /// running no migration (stamp, adoption); <paramref name="update"/> fills or replaces records
    /// of rows already there. The caller holds the migration lock.
    /// </summary>
    public async Task StampAsync(Database database, IReadOnlyList<(long Version, string Description, StepRecord? Record)> record,
        IReadOnlyList<long> remove, CancellationToken cancel, IReadOnlyList<(long Version, StepRecord Record)>? update = null)
    {
        try
        {
            await UpgradeAsync(database, cancel);
            var now = DateTime.UtcNow;
            await ExecuteInTransactionAsync(database,
            [
                .. remove.Select(DeleteStatement),
                .. record.Select(m => RecordStatement(m.Version, m.Description, now, m.Record)),
                .. (update ?? []).Select(u => UpdateRecordStatement(u.Version, u.Record)),
            ], cancel);
        }
        catch (Exception e) when (database.IsLockedByAnotherProcess(e))
        {
            throw new Output.UserError(Output.ExitCode.LockTimeout,
                $"another process held a write lock on the database for more than {database.BusyTimeout.TotalSeconds:0} s (--lock-timeout); nothing was stamped", e);
        }
    }

    private static async Task ExecuteInTransactionAsync(Database database, IReadOnlyList<string> statements, CancellationToken cancel)
    {
        var connection = database.DbConnection;
        await using var transaction = await connection.BeginTransactionAsync(cancel);
        foreach (var statement in statements)
        {
            await using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = statement;
            await command.ExecuteNonQueryAsync(cancel);
        }

        await transaction.CommitAsync(cancel);
    }
}

/// <summary>Source-generated JSON for the recorded Down statements (no reflection on the restart path).</summary>
[System.Text.Json.Serialization.JsonSerializable(typeof(IReadOnlyList<string>))]
internal sealed partial class VersionTableJson : System.Text.Json.Serialization.JsonSerializerContext
{
    /// <summary>Quotes and non-ASCII text as they are, so the recorded SQL reads as SQL in the table (it is never put in HTML).</summary>
    public static VersionTableJson Readable { get; } = new(new System.Text.Json.JsonSerializerOptions
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });
}
