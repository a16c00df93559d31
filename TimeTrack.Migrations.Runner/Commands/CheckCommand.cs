using System.CommandLine;
using Microsoft.Extensions.Logging;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Runner.Generation;
using TimeTrack.Migrations.Runner.Lint;
using TimeTrack.Migrations.Runner.Output;
using TimeTrack.Migrations.Runner.Running;
using TimeTrack.Migrations.Runner.Schema;

namespace TimeTrack.Migrations.Runner.Commands;

/// <summary>
/// `check`: with a database named (--database-url, or DATABASE_URL and its kin as for every other
/// command), does the live database have the schema its applied version should have (hand-made
/// drift)? Without one, or with --model-only, do the migrations produce the model (a CI gate like
/// `alembic check`), and do they pass the lint of unsafe changes (Lint/)? Exit 0 when they agree,
/// 5 with the differences when not.
/// </summary>
public static class CheckCommand
{
    public static readonly Option<bool> ModelOnly = new("--model-only")
    {
        Description = "Check the migrations against the model (and lint them) even when a database URL is set",
    };

    public static Command Create()
    {
        var command = new Command("check", "Find hand-made drift in the database (when one is named: option or environment); without one, or with --model-only, verify the migrations produce the model")
        {
            ModelOnly,
        };
        command.SetAction((parse, cancel) => Handler.RunAsync(parse, ctx =>
            ctx.Settings.UsingDefaultUrl || parse.GetValue(ModelOnly) ? ModelAsync(ctx, cancel) : LiveAsync(ctx, cancel)));
        return command;
    }

    public static async Task<int> ModelAsync(CommandContext ctx, CancellationToken cancel)
    {
        var model = ModelReader.Read(ctx.Catalog.Assembly.GetTypes());
        var history = await MigrationGenerator.HistoryHeadAsync(ctx.Catalog, cancel);
        var diff = SchemaComparer.Compare(history, model);

        // The lint of unsafe changes too (squawk when it is on PATH): the same gate in CI and on a laptop.
        var squawk = Squawk.Locate(null, ctx.Terminal.Variable("PATH"));
        var lint = await MigrationLinter.LintAsync(ctx.Catalog, squawk, ctx.Terminal.WorkingDirectory, cancel);
        var lintPassed = lint.All(f => f.Allowed);
        ctx.Result(
            new
            {
                command = "check", mode = "model", matches = diff.IsEmpty, differences = diff.Changes.Select(c => c.Describe()),
                lint = new { passed = lintPassed, findings = lint.Select(LintCommand.ToJson) },
            },
            [
                .. diff.IsEmpty
                    ? [$"the migrations (up to {ctx.Catalog.Head}) produce the model: no differences"]
                    : new[] { "the model has changes no migration makes (what a new migration would do):" }.Concat(diff.Changes.Select(c => "  " + c.Describe()))
                        .Append("generate one with: timetrack-migrate new \"what changed\""),
                .. lint.Select(LintCommand.Text),
                LintCommand.Summary(lint, squawk),
            ]);
        return diff.IsEmpty && lintPassed ? 0 : (int)ExitCode.Refused;
    }

    public static async Task<int> LiveAsync(CommandContext ctx, CancellationToken cancel)
    {
        await using var database = await ctx.ConnectAsync(cancel, readOnly: true);
        if (database.IsReadOnlyStandby)
        {
            // The expected schema is built in a (rolled back) transaction: a standby refuses any.
            throw new UserError(ExitCode.ConnectionFailed, Databases.Postgres.PostgresProvider.StandbyMessage);
        }

        var applied = await database.ReadAppliedVersionsAsync(cancel);
        var state = new VersionState(ctx.Catalog, applied.Select(a => a.Version).ToList());
        if (state.Unknown.Count > 0)
        {
            throw new UserError(ExitCode.Refused, $"the database records version(s) {string.Join(", ", state.Unknown)} that this build does not know; check it with the build that applied them");
        }

        var live = await database.ReadSchemaAsync(cancel);
        // The schema after the newest applied version, read once (not after every step: with a long
        // history that was most of the time and memory of a check).
        var version = state.NewestKnownApplied;
        var expected = version == 0
            ? database.Provider.EmptySchema
            : (await StepExecutor.BuildExpectedSchemasAsync(database.Provider, database, ctx.Catalog, version, cancel, read: v => v == version))[0].Schema;
        var match = SchemaMatch.Of(live, expected, VersionTable.Name);
        foreach (var warning in match.Warnings)
        {
            ctx.Log.LogWarning("not created by the migrations: {Difference}", warning.DescribeAsDrift());
        }

        ctx.Result(
            new
            {
                command = "check",
                mode = "database",
                database = ctx.Target.Display,
                version = state.Current,
                matches = match.Matches,
                differences = match.Blocking.Select(c => c.DescribeAsDrift()),
                warnings = match.Warnings.Select(c => c.DescribeAsDrift()),
            },
            match.Matches
                ? [$"the database has the schema of version {ctx.DescribeVersion(state.Current)}" + (match.Warnings.Count > 0 ? $", plus {match.Warnings.Count} object(s) the migrations did not create" : "")]
                : [$"the database differs from the schema of version {ctx.DescribeVersion(state.Current)} (hand-made drift?):", match.RenderBlocking()]);
        return match.Matches ? 0 : (int)ExitCode.Refused;
    }
}
