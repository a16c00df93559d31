using Microsoft.Data.Sqlite;
using TimeTrack.Migrations.Runner.Output;
using TimeTrack.Migrations.Runner.Schema;

namespace TimeTrack.Migrations.Runner.Databases.Sqlite;

public sealed class SqliteDatabase : Database
{
    private SqliteDatabase(DatabaseTarget target, SqliteConnection connection) : base(target) => Connection = connection;

    public SqliteConnection Connection { get; }

    public static async Task<SqliteDatabase> ConnectAsync(DatabaseTarget target, CancellationToken cancel)
    {
        var connection = new SqliteConnection(target.ConnectionString);
        try
        {
            await connection.OpenAsync(cancel);
            return new SqliteDatabase(target, connection);
        }
        catch (SqliteException e)
        {
            await connection.DisposeAsync();
            throw new UserError(ExitCode.ConnectionFailed, $"could not open SQLite database {target.SqlitePath}: {e.Message}", e);
        }
    }

    public override Task<DatabaseSchema> ReadSchemaAsync(CancellationToken cancel = default) =>
        SqliteCatalogReader.ReadAsync(Connection, cancel);

    public override async Task<bool> HasVersionTableAsync(CancellationToken cancel = default)
    {
        await using var command = Connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = $name";
        command.Parameters.AddWithValue("$name", VersionTable);
        return (long)(await command.ExecuteScalarAsync(cancel))! > 0;
    }

    public override async Task<IReadOnlyList<AppliedVersion>> ReadAppliedVersionsAsync(CancellationToken cancel = default)
    {
        if (!await HasVersionTableAsync(cancel))
        {
            return [];
        }

        await using var command = Connection.CreateCommand();
        command.CommandText = $"SELECT Version, AppliedOn, Description FROM \"{VersionTable}\" ORDER BY Version";
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

    public override ValueTask DisposeAsync() => Connection.DisposeAsync();
}
