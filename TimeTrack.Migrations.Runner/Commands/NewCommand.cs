using System.CommandLine;
using Microsoft.Extensions.Logging;
using TimeTrack.Migrations.Runner.Generation;
using TimeTrack.Migrations.Runner.Schema;

namespace TimeTrack.Migrations.Runner.Commands;

/// <summary>
/// `new "message"` (seed name `create`): compare the model with the schema the existing migrations
/// produce and write the migration between them into TimeTrack.Migrations/Migrations.
/// </summary>
public static class NewCommand
{
    public static readonly Argument<string> Message = new("message") { Description = "What the migration does, e.g. \"Add user preferences\"" };
    public static readonly Option<bool> Empty = new("--empty") { Description = "Write an empty migration when the model and the migrations agree (to fill by hand)" };
    public static readonly Option<string?> Source = new("--source") { HelpName = "dir", Description = "The TimeTrack.Migrations project folder (default: found above the working directory)" };

    public static Command Create()
    {
        var command = new Command("new", "Generate a migration from the model (development only)") { Message, Empty, Source };
        command.SetAction((parse, cancel) => Handler.RunAsync(parse, ctx =>
            RunAsync(ctx, parse.GetValue(Message)!, parse.GetValue(Empty), parse.GetValue(Source), cancel)));
        return command;
    }

    public static async Task<int> RunAsync(CommandContext ctx, string message, bool empty, string? source, CancellationToken cancel)
    {
        if (string.IsNullOrWhiteSpace(message))
        {
            throw Output.UserError.Invalid("the migration needs a message, e.g. \"Add user preferences\"");
        }

        var folder = MigrationGenerator.SourceFolder(source, ctx.Terminal);
        var model = ModelReader.Read(ctx.Catalog.Assembly.GetTypes());
        var migration = await MigrationGenerator.NewAsync(ctx.Catalog, model, message.Trim(), empty, DateTime.UtcNow, cancel);
        if (migration is null)
        {
            ctx.Result(new { command = "new", written = (string?)null, differences = 0 },
                ["no differences between the model and the migrations: nothing written (use --empty for a migration to fill by hand)"]);
            return 0;
        }

        var path = MigrationGenerator.Save(migration, Path.Combine(folder, "Migrations", migration.Spec.FileName));
        foreach (var warning in migration.Warnings)
        {
            ctx.Log.LogWarning("REVIEW {Warning}", warning);
        }

        ctx.Result(new { command = "new", written = path, version = migration.Spec.Version, warnings = migration.Warnings },
            [$"wrote {Path.GetRelativePath(ctx.Terminal.WorkingDirectory, path)}: review it, build, run 'timetrack-migrate lint' (CI runs it too), then apply it with 'timetrack-migrate up'"]);
        return 0;
    }
}
