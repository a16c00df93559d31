using System.Globalization;

namespace TimeTrack.Migrations.Runner.Databases;

/// <summary>One row of the version table.</summary>
public sealed record AppliedVersion(long Version, DateTime? AppliedOn, string? Description);

/// <summary>
/// The version table: its name, its columns, and every statement that creates, reads, records
/// and deletes in it. The only place that knows them: a new column is one change here. The
/// layout is FluentMigrator's own (VersionInfo with Version, AppliedOn, Description and the
/// unique index UC_Version), so databases migrated before, by this runner or by FluentMigrator,
/// need no conversion; the runner writes it itself, FluentMigrator's version loader never runs.
/// </summary>
/// <remarks>
/// Statements that record a step are rendered as SQL text (no parameters), because the step
/// executor runs them through FluentMigrator's processor inside the step's transaction, and
/// <c>script</c> prints them as part of the preview.
/// </remarks>
public sealed class VersionTable(DatabaseProvider provider)
{
    public const string Name = "VersionInfo";

    private sealed record Column(string Name, VersionColumnType Type, bool Nullable);

    private static readonly Column[] Columns =
    [
        new("Version", VersionColumnType.BigInteger, Nullable: false),
        new("AppliedOn", VersionColumnType.Timestamp, Nullable: true),
        new("Description", VersionColumnType.Text1024, Nullable: true),
    ];

    private string Table => provider.QualifiedTableName(Name);

    /// <summary>The statements that create the table and its unique index.</summary>
    public IReadOnlyList<string> CreateStatements() =>
    [
        $"CREATE TABLE {Table} ({string.Join(", ", Columns.Select(c => $"\"{c.Name}\" {provider.ColumnType(c.Type)}{(c.Nullable ? "" : " NOT NULL")}"))});",
        $"CREATE UNIQUE INDEX \"UC_Version\" ON {Table} (\"Version\" ASC);",
    ];

    public string RecordStatement(long version, string description, DateTime appliedOnUtc) =>
        $"INSERT INTO {Table} (\"Version\", \"AppliedOn\", \"Description\") VALUES " +
        $"({version.ToString(CultureInfo.InvariantCulture)}, '{appliedOnUtc.ToString("yyyy-MM-ddTHH:mm:ss.fff", CultureInfo.InvariantCulture)}', {Literal(description)});";

    public string DeleteStatement(long version) =>
        $"DELETE FROM {Table} WHERE \"Version\" = {version.ToString(CultureInfo.InvariantCulture)};";

    private const string SelectAll = "SELECT \"Version\", \"AppliedOn\", \"Description\" FROM {0} ORDER BY \"Version\"";

    private static string Literal(string text) => "'" + text.Replace("'", "''", StringComparison.Ordinal) + "'";

    /// <summary>True when the table exists (checked in the catalog, never by creating it).</summary>
    public static Task<bool> ExistsAsync(Database database, CancellationToken cancel) => database.HasTableAsync(Name, cancel);

    /// <summary>The applied migrations, oldest first; empty when the table does not exist.</summary>
    public static async Task<IReadOnlyList<AppliedVersion>> ReadAsync(Database database, CancellationToken cancel)
    {
        if (!await ExistsAsync(database, cancel))
        {
            return [];
        }

        await using var command = database.DbConnection.CreateCommand();
        command.CommandText = string.Format(CultureInfo.InvariantCulture, SelectAll, database.Provider.QualifiedTableName(Name));
        await using var reader = await command.ExecuteReaderAsync(cancel);
        var result = new List<AppliedVersion>();
        while (await reader.ReadAsync(cancel))
        {
            result.Add(new AppliedVersion(
                reader.GetInt64(0),
                reader.IsDBNull(1) ? null : reader.GetDateTime(1),
                reader.IsDBNull(2) ? null : reader.GetString(2)));
        }

        return result;
    }

    /// <summary>Creates the table on the runner's own connection when it is missing (the caller holds the migration lock).</summary>
    public async Task EnsureExistsAsync(Database database, CancellationToken cancel)
    {
        if (!await ExistsAsync(database, cancel))
        {
            await ExecuteInTransactionAsync(database, CreateStatements(), cancel);
        }
    }

    /// <summary>
    /// Records <paramref name="record"/> and deletes <paramref name="remove"/> in one transaction,
    /// running no migration (stamp, adoption). The caller holds the migration lock.
    /// </summary>
    public async Task StampAsync(Database database, IReadOnlyList<(long Version, string Description)> record, IReadOnlyList<long> remove, CancellationToken cancel)
    {
        try
        {
            await EnsureExistsAsync(database, cancel);
            var now = DateTime.UtcNow;
            await ExecuteInTransactionAsync(database,
                [.. remove.Select(DeleteStatement), .. record.Select(m => RecordStatement(m.Version, m.Description, now))], cancel);
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
