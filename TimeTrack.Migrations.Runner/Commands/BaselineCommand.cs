using System.CommandLine;
using Microsoft.Extensions.Logging;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Runner.Generation;
using TimeTrack.Migrations.Runner.Schema;

namespace TimeTrack.Migrations.Runner.Commands;

/// <summary>`baseline`: one migration that creates the whole schema, from the model or from a live database.</summary>
public static class BaselineCommand
{
    public static readonly Option<string> From = new("--from") { HelpName = "model|database", Description = "Where the schema comes from (default: model)", DefaultValueFactory = _ => "model" };
    public static readonly Option<string?> OutputFile = new("--output") { HelpName = "file", Description = "Write the class here (default: TimeTrack.Migrations/Migrations/M{version}_Baseline.cs)" };
    public static readonly Option<long?> Version = new("--version-number") { HelpName = "version", Description = "The migration's version (default: now, yyyyMMddHHmm)" };

    public static Command Create()
    {
        From.AcceptOnlyFromAmong("model", "database");
        var command = new Command("baseline", "Generate one migration that creates the whole schema (development only)") { From, OutputFile, Version, NewCommand.Source };
        command.SetAction((parse, cancel) => Handler.RunAsync(parse, ctx => RunAsync(
            ctx, parse.GetValue(From)!, parse.GetValue(OutputFile), parse.GetValue(Version), parse.GetValue(NewCommand.Source), cancel)));
        return command;
    }

    public static async Task<int> RunAsync(CommandContext ctx, string from, string? output, long? version, string? source, CancellationToken cancel)
    {
        var folder = MigrationGenerator.SourceFolder(source, ctx.Terminal);
        DatabaseSchema schema;
        if (from == "database")
        {
            await using var database = await ctx.ConnectAsync(cancel, readOnly: true);
            schema = (await database.ReadSchemaAsync(cancel)).Without(VersionTable.Name);
            ctx.Log.LogInformation("read {Tables} table(s) and {Enums} enum type(s) from {Database}", schema.Tables.Count, schema.Enums.Count, ctx.Target.Display);
        }
        else
        {
            schema = ModelReader.Read(ctx.Catalog.Assembly.GetTypes());
        }

        if (schema.Tables.Count == 0)
        {
            throw Output.UserError.Invalid($"the {from} has no tables: nothing to write a baseline of");
        }

        var migration = MigrationGenerator.Baseline(schema, version ?? MigrationGenerator.NextVersion(ctx.Catalog, DateTime.UtcNow));
        var path = MigrationGenerator.Save(migration, output is null
            ? Path.Combine(folder, "Migrations", migration.Spec.FileName)
            : ctx.Terminal.FullPath(output));
        foreach (var warning in migration.Warnings)
        {
            ctx.Log.LogWarning("REVIEW {Warning}", warning);
        }

        ctx.Result(new { command = "baseline", from, written = path, version = migration.Spec.Version, tables = schema.Tables.Count },
            [$"wrote {path}: a baseline of {schema.Tables.Count} table(s) from the {from}"]);
        return 0;
    }
}
