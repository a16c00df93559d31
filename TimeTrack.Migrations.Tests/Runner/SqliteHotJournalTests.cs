using Microsoft.Data.Sqlite;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Tests.Infrastructure;

namespace TimeTrack.Migrations.Tests.Runner;

/// <summary>
/// A SQLite database left by a crash in the middle of a write: the file with some of the
/// transaction's pages in it, and its hot journal (the pages as they were) beside it. The
/// read-only commands read it as it was last committed, and the journal is gone afterwards.
/// </summary>
public sealed class SqliteHotJournalTests() : RunnerTestBase(DatabaseKind.Sqlite)
{
    /// <summary>
    /// The database and its journal copied in the middle of a transaction large enough to spill
    /// pages into the file (a small page cache): what a writer killed at that moment leaves.
    /// </summary>
    private async Task<string> CrashedCopyAsync()
    {
        var path = ((SqliteTestDatabase)Db).Path;
        var copy = Path.Combine(Directory.CreateTempSubdirectory("hot-journal").FullName, "crashed.db");
        await using var writer = new SqliteConnection($"Data Source={path};Pooling=False");
        await writer.OpenAsync();
        await using (var command = writer.CreateCommand())
        {
            command.CommandText = "PRAGMA cache_size = 2";
            await command.ExecuteNonQueryAsync();
        }

        await using var transaction = writer.BeginTransaction();
        await using (var command = writer.CreateCommand())
        {
            command.CommandText = "UPDATE widgets SET name = name || ' (half written)'; CREATE TABLE filler (x); " +
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200) INSERT INTO filler SELECT randomblob(1000) FROM n";
            await command.ExecuteNonQueryAsync();
        }

        File.Copy(path, copy);
        File.Copy(path + "-journal", copy + "-journal");
        await transaction.RollbackAsync();
        return copy;
    }

    [Fact]
    public async Task Status_and_check_read_a_database_with_a_hot_journal_as_last_committed()
    {
        ShouldSucceed(await RunScenarioAsync("normal", "up", "--to", "200"));
        var copy = await CrashedCopyAsync();
        string[] scenarios = ["--migrations-assembly", RunnerProcess.ScenariosAssembly, "--database-url", "sqlite:///" + copy];

        await using (var readOnly = new SqliteConnection($"Data Source={copy};Mode=ReadOnly;Pooling=False"))
        {
            await readOnly.OpenAsync();
            await using var probe = readOnly.CreateCommand();
            probe.CommandText = "SELECT count(*) FROM sqlite_master";
            (await Should.ThrowAsync<SqliteException>(() => probe.ExecuteScalarAsync())).SqliteExtendedErrorCode.ShouldBe(776); // hot: SQLITE_READONLY_ROLLBACK
        }

        var status = await InProcessRunner.RunAsync(["status", .. scenarios]);
        ShouldSucceed(status);
        status.Stdout.ShouldContain("current:      200");
        File.Exists(copy + "-journal").ShouldBeFalse("the hot journal was not rolled back");

        ShouldSucceed(await InProcessRunner.RunAsync(["check", .. scenarios]));
        await using var reader = new SqliteConnection($"Data Source={copy};Mode=ReadOnly;Pooling=False");
        await reader.OpenAsync();
        await using var names = reader.CreateCommand();
        names.CommandText = "SELECT count(*) FROM widgets WHERE name LIKE '%half written%'";
        ((long)(await names.ExecuteScalarAsync())!).ShouldBe(0); // the committed state, nothing of the interrupted write
        Directory.Delete(Path.GetDirectoryName(copy)!, recursive: true);
    }
}
