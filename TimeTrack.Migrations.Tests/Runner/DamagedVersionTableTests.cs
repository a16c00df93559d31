using System.Globalization;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Runner.FastStart;
using TimeTrack.Migrations.Runner.Running;

namespace TimeTrack.Migrations.Tests.Runner;

public sealed class PostgresDamagedVersionTableTests() : DamagedVersionTableTests(DatabaseKind.Postgres);

public sealed class SqliteDamagedVersionTableTests() : DamagedVersionTableTests(DatabaseKind.Sqlite)
{
    [Fact]
    public async Task A_version_that_is_not_a_number_is_refused_naming_it_and_left_to_a_repair_by_hand()
    {
        ShouldSucceed(await RunAsync("init", "--to", V(1)));
        await Db.ExecuteAsync($"UPDATE \"VersionInfo\" SET \"Version\" = 'v{V(1)}' WHERE \"Version\" = {V(1)}"); // SQLite keeps text in any column

        await EveryReaderRefusesAsync($"a row's version is not a whole number ('v{V(1)}')");
        ShouldFailWithOneLine(await RunAsync("stamp", "--repair"), 5, "correct or delete that row by hand");
    }
}

/// <summary>
/// A version table changed by hand (docs/damaged-state.md): every command that reads it refuses
/// with exit 5, one line naming the damage and the repair, and writes nothing; the NativeAOT
/// front hands it to the full runner; <c>stamp --repair</c> undoes it.
/// </summary>
public abstract class DamagedVersionTableTests(DatabaseKind provider) : RunnerTestBase(provider)
{
    /// <summary>Every command that reads the version table (rollback, stamp and script with what they need).</summary>
    private static readonly string[][] Readers =
    [
        ["status"], ["up"], ["init"], ["rollback"], ["stamp", "head"], ["check"], ["script", "up"], ["script", "rollback"],
    ];

    protected string V(int index) => Versions[index].ToString(CultureInfo.InvariantCulture);

    /// <summary>The table copied by hand, as one might to "fix" it: no unique index, no NOT NULL.</summary>
    private async Task CopyWithoutConstraintsAsync()
    {
        await Db.ExecuteAsync("CREATE TABLE \"VersionInfoCopy\" AS SELECT * FROM \"VersionInfo\"");
        await Db.ExecuteAsync("DROP TABLE \"VersionInfo\"");
        await Db.ExecuteAsync("ALTER TABLE \"VersionInfoCopy\" RENAME TO \"VersionInfo\"");
    }

    protected async Task EveryReaderRefusesAsync(string expected)
    {
        var before = await Db.FingerprintAsync();
        foreach (var args in Readers)
        {
            var result = await RunAsync(args);
            ShouldFailWithOneLine(result, 5, expected);
            result.Stderr.ShouldContain("docs/damaged-state.md", Case.Sensitive, string.Join(' ', args));
        }

        (await Db.FingerprintAsync()).ShouldBe(before, "a refused command wrote something");
    }

    private async Task<string?> FrontDecidesAsync()
    {
        await using var connection = Db.OpenConnection();
        try
        {
            var (columns, rows) = await NoOpStart.ReadAsync(connection, Db.Target, CancellationToken.None);
            return NoOpStart.WhyNotNoOp(columns, rows, MigrationManifest.Load(typeof(TimeTrack.Migrations.Migrations.TimeTrackMigration).Assembly)!,
                MigrationManifest.Key(Db.Target.Provider));
        }
        catch (Exception e)
        {
            return $"read failed: {e.GetType().Name}"; // Program.cs hands over on any failure
        }
    }

    [Fact]
    public async Task A_repeated_version_is_refused_by_every_command_and_stamp_repair_keeps_the_earliest_row()
    {
        ShouldSucceed(await RunAsync("init"));
        await CopyWithoutConstraintsAsync();
        await Db.ExecuteAsync($"INSERT INTO \"VersionInfo\" (\"Version\", \"AppliedOn\", \"Description\", \"Checksum\") " +
            $"SELECT \"Version\", \"AppliedOn\", 'the copy', \"Checksum\" FROM \"VersionInfo\" WHERE \"Version\" = {V(1)}");

        await EveryReaderRefusesAsync($"version {V(1)} (2 rows) is recorded more than once");
        (await FrontDecidesAsync()).ShouldBe("a version is recorded more than once");

        var repair = await RunAsync("stamp", "--repair");
        ShouldSucceed(repair);
        repair.Stdout.ShouldContain("keeping the earliest row of each version");
        repair.Stdout.ShouldContain("unique index");
        (await Db.CountAsync($"SELECT count(*) FROM \"VersionInfo\" WHERE \"Version\" = {V(1)}")).ShouldBe(1);
        (await Db.CountAsync("SELECT count(*) FROM \"VersionInfo\" WHERE \"Description\" = 'the copy'")).ShouldBe(0);
        ShouldSucceed(await RunAsync("check"));
        (await FrontDecidesAsync()).ShouldBeNull(); // at head again: the front's
        await Should.ThrowAsync<System.Data.Common.DbException>(() => Db.ExecuteAsync(
            $"INSERT INTO \"VersionInfo\" (\"Version\", \"Description\") VALUES ({V(1)}, 'again')")); // the unique index is back
    }

    [Fact]
    public async Task A_null_version_is_refused_and_stamp_repair_deletes_the_row()
    {
        ShouldSucceed(await RunAsync("init"));
        await CopyWithoutConstraintsAsync();
        await Db.ExecuteAsync("INSERT INTO \"VersionInfo\" (\"Version\", \"Description\") VALUES (NULL, 'typed by hand')");

        await EveryReaderRefusesAsync("a row has no version (NULL; its description: 'typed by hand')");
        (await FrontDecidesAsync()).ShouldNotBeNull();

        ShouldSucceed(await RunAsync("stamp", "--repair"));
        (await Db.CountAsync("SELECT count(*) FROM \"VersionInfo\" WHERE \"Version\" IS NULL")).ShouldBe(0);
        ShouldSucceed(await RunAsync("check"));
    }

    [Theory]
    [InlineData("AppliedOn")]
    [InlineData("Description")]
    public async Task A_dropped_column_is_refused_and_stamp_repair_adds_it_back(string column)
    {
        ShouldSucceed(await RunAsync("init", "--to", V(2)));
        await Db.ExecuteAsync($"ALTER TABLE \"VersionInfo\" DROP COLUMN \"{column}\"");

        await EveryReaderRefusesAsync($"it has no \"{column}\" column");
        (await FrontDecidesAsync()).ShouldBe($"the version table lacks {column}");

        var repair = await RunAsync("stamp", "--repair");
        ShouldSucceed(repair);
        repair.Stdout.ShouldContain($"added the missing column \"{column}\"");
        ShouldSucceed(await RunAsync("rollback"));
        ShouldSucceed(await RunAsync("up"));
        ShouldSucceed(await RunAsync("check"));
    }

    [Fact]
    public async Task A_table_without_its_version_column_is_refused_even_by_stamp_repair()
    {
        ShouldSucceed(await RunAsync("init", "--to", V(1)));
        await Db.ExecuteAsync("ALTER TABLE \"VersionInfo\" RENAME COLUMN \"Version\" TO \"Number\"");
        var before = await Db.FingerprintAsync();

        ShouldFailWithOneLine(await RunAsync("status"), 5, "it has no \"Version\" column");
        ShouldFailWithOneLine(await RunAsync("stamp", "--repair"), 5, "restore the version table from a backup");
        (await Db.FingerprintAsync()).ShouldBe(before);
    }
}
