using Npgsql;
using TimeTrack.Migrations.Runner.Output;
using TimeTrack.Migrations.Runner.Schema;

namespace TimeTrack.Migrations.Runner.Databases.Postgres;

public sealed class PostgresDatabase : Database
{
    private PostgresDatabase(DatabaseTarget target, NpgsqlConnection connection) : base(target) => Connection = connection;

    public NpgsqlConnection Connection { get; }

    public static async Task<PostgresDatabase> ConnectAsync(DatabaseTarget target, CancellationToken cancel)
    {
        var connection = new NpgsqlConnection(target.ConnectionString);
        try
        {
            await connection.OpenAsync(cancel);
            return new PostgresDatabase(target, connection);
        }
        catch (Exception e) when (PostgresErrors.IsConnectionError(e))
        {
            await connection.DisposeAsync();
            throw new UserError(ExitCode.ConnectionFailed, PostgresErrors.DescribeConnectionError(e, target), e);
        }
    }

    public override Task<DatabaseSchema> ReadSchemaAsync(CancellationToken cancel = default) =>
        PostgresCatalogReader.ReadAsync(Connection, cancel);

    public override async Task<bool> HasVersionTableAsync(CancellationToken cancel = default)
    {
        await using var command = new NpgsqlCommand(
            "SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relname = @name AND c.relkind = 'r')",
            Connection);
        command.Parameters.AddWithValue("name", VersionTable);
        return (bool)(await command.ExecuteScalarAsync(cancel))!;
    }

    public override async Task<IReadOnlyList<AppliedVersion>> ReadAppliedVersionsAsync(CancellationToken cancel = default)
    {
        if (!await HasVersionTableAsync(cancel))
        {
            return [];
        }

        await using var command = new NpgsqlCommand(
            $"SELECT \"Version\", \"AppliedOn\", \"Description\" FROM public.\"{VersionTable}\" ORDER BY \"Version\"", Connection);
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
