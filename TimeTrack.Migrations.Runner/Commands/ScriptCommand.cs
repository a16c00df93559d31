using System.CommandLine;
using FluentMigrator;
using FluentMigrator.Runner;
using Microsoft.Extensions.DependencyInjection;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Runner.Databases.Sqlite;
using TimeTrack.Migrations.Runner.Running;

namespace TimeTrack.Migrations.Runner.Commands;

/// <summary>`script up|rollback`: print the SQL that would run, changing nothing. Same plan as up/rollback.</summary>
public static class ScriptCommand
{
    public static readonly Argument<string> Direction = new("direction") { Description = "up or rollback" };
    public static readonly Option<long?> To = new("--to") { HelpName = "version", Description = "Target version (as for up / rollback)" };
    public static readonly Option<int?> Steps = new("--steps") { HelpName = "n", Description = "With rollback: how many migrations (default 1)" };

    public static Command Create()
    {
        Direction.AcceptOnlyFromAmong("up", "rollback");
        var command = new Command("script", "Print the SQL that up or rollback would run, changing nothing (stdout is the SQL)")
        {
            Direction, To, Steps, UpCommand.AllowUnknown, UpCommand.AllowOutOfOrder,
        };
        command.SetAction((parse, cancel) => Handler.RunAsync(parse, ctx => RunAsync(
            ctx, parse.GetValue(Direction)!, parse.GetValue(To), parse.GetValue(Steps),
            parse.GetValue(UpCommand.AllowUnknown), parse.GetValue(UpCommand.AllowOutOfOrder), cancel)));
        return command;
    }

    public static async Task<int> RunAsync(CommandContext ctx, string direction, long? to, int? steps, bool allowUnknown, bool allowOutOfOrder, CancellationToken cancel)
    {
        if (direction == "up" && steps is not null)
        {
            throw Output.UserError.Invalid("--steps goes with 'script rollback'; use --to with 'script up'");
        }

        VersionState state;
        await using (var database = await ctx.ConnectAsync(cancel, readOnly: true))
        {
            var applied = (await database.ReadAppliedVersionsAsync(cancel)).Select(a => a.Version).ToList();
            await CommandContext.RefuseUnmanagedAsync(database, applied, cancel);
            state = new VersionState(ctx.Catalog, applied);
        }

        var plan = direction == "up" ? state.PlanUp(to, allowUnknown, allowOutOfOrder) : state.PlanRollback(to, steps);
        if (plan.Count == 0)
        {
            ctx.Out.WriteLine($"-- nothing to do: the database is at {ctx.DescribeVersion(state.Current)}");
            return 0;
        }

        // FluentMigrator's preview mode logs every statement it would run, the version-table
        // bookkeeping included, and executes nothing. SQLite is opened read-only (or in memory
        // when the file does not exist yet) so that not even opening it creates the file.
        var target = ctx.Target.Kind == DatabaseKind.Sqlite
            ? ctx.Target with { ConnectionString = SqliteDatabase.ReadOnlyConnectionString(ctx.Target) }
            : ctx.Target;
        using var services = FluentMigratorServices.Create(target, ctx.Catalog.Assembly,
            new FluentMigratorServices.Options { Preview = true, SqlOutput = ctx.Out });
        using var scope = services.CreateScope();
        var runner = (MigrationRunner)scope.ServiceProvider.GetRequiredService<IMigrationRunner>();
        var infos = runner.MigrationLoader.LoadMigrations();
        Migrator.RefuseIrreversible(plan, scope.ServiceProvider); // as rollback does: exit 5 naming it
        foreach (var step in plan)
        {
            var info = infos[step.Migration.Version];
            var transactional = info.TransactionBehavior == TransactionBehavior.Default;
            if (step.Direction == Running.Direction.Up)
            {
                runner.ApplyMigrationUp(info, transactional);
            }
            else
            {
                runner.ApplyMigrationDown(info, transactional);
            }
        }

        return 0;
    }
}
