using System.Globalization;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Runner.Output;
using TimeTrack.Migrations.Runner.Running;
using TimeTrack.Migrations.Runner.Schema;

namespace TimeTrack.Migrations.Runner.Generation;

/// <summary>`new` and `baseline` as compositions of the schema engine: read, compare, render.</summary>
public static class MigrationGenerator
{
    public const string EnvironmentVariable = "TIMETRACK_ENVIRONMENT";

    /// <summary>
    /// The schema the existing migrations produce (empty when there are none), built in a scratch
    /// in-memory SQLite database: generation and the model check are development and CI steps
    /// that need no server, and the model says nothing a SQLite build cannot show.
    /// </summary>
    public static async Task<DatabaseSchema> HistoryHeadAsync(MigrationCatalog catalog, CancellationToken cancel)
    {
        var sqlite = DatabaseProvider.For(DatabaseKind.Sqlite);
        return catalog.Migrations.Count == 0
            ? sqlite.EmptySchema
            : (await StepExecutor.BuildExpectedSchemasAsync(sqlite, live: null, catalog, catalog.Head, cancel))[^1].Schema;
    }

    /// <summary>The migration from what the history produces to the model; null when they already agree (unless <paramref name="empty"/>).</summary>
    public static async Task<GeneratedMigration?> NewAsync(MigrationCatalog catalog, DatabaseSchema model, string message, bool empty, DateTime now, CancellationToken cancel)
    {
        var history = await HistoryHeadAsync(catalog, cancel);
        var spec = new MigrationSpec(NextVersion(catalog, now), message);
        if (SchemaComparer.Compare(history, model).IsEmpty)
        {
            // --empty: an empty migration to fill by hand (a data step, say).
            return empty ? CSharpMigrationWriter.Write(spec, model, model) : null;
        }

        return CSharpMigrationWriter.Write(spec, history, model);
    }

    /// <summary>One migration that creates the whole <paramref name="source"/> schema from nothing.</summary>
    public static GeneratedMigration Baseline(DatabaseSchema source, long version, string description = "Baseline") =>
        CSharpMigrationWriter.Write(new MigrationSpec(version, description), new DatabaseSchema([], [], [], source.Capabilities), source);

    /// <summary>yyyyMMddHHmm of <paramref name="now"/> (UTC), or the head + 1 when that is not newer.</summary>
    public static long NextVersion(MigrationCatalog catalog, DateTime now)
    {
        var stamp = long.Parse(now.ToUniversalTime().ToString("yyyyMMddHHmm", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
        return Math.Max(stamp, catalog.Head + 1);
    }

    /// <summary>
    /// The TimeTrack.Migrations source folder to write into — refusing in production: migrations
    /// are generated in development, reviewed, committed and shipped, never made where they run.
    /// </summary>
    /// <param name="terminal">The invocation's environment (<see cref="EnvironmentVariable"/>) and working directory.</param>
    public static string SourceFolder(string? explicitFolder, Commands.Terminal terminal)
    {
        var workingDirectory = terminal.WorkingDirectory;
        if (string.Equals(terminal.Variable(EnvironmentVariable), "Production", StringComparison.OrdinalIgnoreCase))
        {
            throw UserError.Invalid($"migrations are not generated in production ({EnvironmentVariable}=Production): generate them in a checkout, review and commit them, and ship them in the image");
        }

        if (explicitFolder is not null)
        {
            var full = Path.GetFullPath(explicitFolder, workingDirectory);
            return Directory.Exists(full)
                ? full
                : throw UserError.Invalid($"source folder {full} does not exist");
        }

        for (var dir = new DirectoryInfo(workingDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "TimeTrack.Migrations");
            if (File.Exists(Path.Combine(candidate, "TimeTrack.Migrations.csproj")))
            {
                return candidate;
            }
        }

        throw UserError.Invalid("the TimeTrack.Migrations source folder was not found above the working directory: generate migrations in a checkout (or pass --source), not in a deployed image");
    }

    /// <summary>Writes the file, never over an existing one.</summary>
    public static string Save(GeneratedMigration migration, string path)
    {
        if (File.Exists(path))
        {
            throw UserError.Invalid($"{path} exists already; not overwriting it");
        }

        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        if (!Directory.Exists(directory))
        {
            throw UserError.Invalid($"directory {directory} does not exist");
        }

        File.WriteAllText(path, migration.Code);
        return path;
    }
}
