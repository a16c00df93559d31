using System.CommandLine;
using Microsoft.Extensions.Logging;
using TimeTrack.Migrations.Runner.FastStart;
using TimeTrack.Migrations.Runner.Output;
using TimeTrack.Migrations.Runner.Settings;

namespace TimeTrack.Migrations.Runner.Commands;

/// <summary>
/// `start [-- APP ARGS...]`: the container's entrypoint. When APP is a runner command under any of
/// its names (or an option such as --help, or an image helper), that runs and nothing else:
/// migrating first would change the database before a `status` or replay a start-up rollback
/// before a manual one. Otherwise it migrates as <c>init</c> does, with the container's settings
/// (MIGRATE_TARGET_VERSION, MIGRATE_ALLOW_DOWNGRADE, MIGRATE_WAIT_SECONDS (default 60),
/// MIGRATE_BACKUP_*, MIGRATE_ON_START=false to skip), then becomes APP by exec(3): the app keeps
/// the PID and gets the stop signals. A failed or interrupted migration (SIGTERM: the step rolled
/// back, exit 143) is the exit code, and APP never starts.
/// </summary>
public static class StartCommand
{
    public static readonly Argument<string[]> App = new("app")
    {
        Arity = ArgumentArity.ZeroOrMore,
        Description = "After --: the application to exec once the database is migrated, or a runner command to run instead",
    };

    public static Command Create()
    {
        var command = new Command(CommandDefinitions.Start.Name, "Container start: migrate as init does (MIGRATE_* settings), then exec the application given after --")
        {
            InitCommand.To, InitCommand.AllowDowngrade, InitCommand.Force, UpCommand.AllowUnknown, UpCommand.AllowOutOfOrder, UpCommand.AllowChanged, App,
        };
        command.SetAction(RunAsync);
        return command;
    }

    private static async Task<int> RunAsync(ParseResult parse, CancellationToken cancel)
    {
        var terminal = Cli.TerminalOf(parse);
        var app = parse.GetValue(App) ?? [];
        if (app.Length > 0 && CommandDefinitions.IsRunnerInvocation(app[0]))
        {
            return await Cli.RunAsync(app, terminal, cancel);
        }

        if (app.Length > 0 && CommandDefinitions.ImageHelpers.Contains(app[0]))
        {
            return Exec(terminal, app, LogFormat.Text);
        }

        var environment = new RunnerEnvironment(terminal);
        var format = environment.LogFormat(parse.GetValue(GlobalOptions.LogFormat));
        bool migrate;
        try
        {
            migrate = environment.Flag("ON_START", "MIGRATE_ON_START") ?? true;
        }
        catch (UserError e)
        {
            await terminal.Err.WriteLineAsync($"error: {e.Message}");
            return (int)e.Code;
        }

        if (migrate)
        {
            var code = await Handler.RunAsync(parse, ctx =>
            {
                if (environment.UsesImageDefaultUrl(parse.GetValue(GlobalOptions.DatabaseUrl)))
                {
                    ctx.Log.LogInformation("{Message}", StartMessages.ImageDefaultUrl(ctx.Target.Display));
                }

                return InitCommand.RunAsync(ctx, parse.GetValue(InitCommand.To), null, parse.GetValue(InitCommand.Force), parse.GetValue(InitCommand.AllowDowngrade),
                    parse.GetValue(UpCommand.AllowUnknown), parse.GetValue(UpCommand.AllowOutOfOrder), cancel, parse.GetValue(UpCommand.AllowChanged));
            });
            if (code != 0 || cancel.IsCancellationRequested)
            {
                code = code != 0 ? code : (int)Interruption.Code; // never on to the application after a stop signal
                if (app.Length > 0)
                {
                    await terminal.Err.WriteLineAsync(ApplicationStart.NotStartingLine(format, code, cancel.IsCancellationRequested));
                }

                return code;
            }
        }
        else
        {
            await terminal.Err.WriteLineAsync(LogLine.Format(format, "Information", LogLine.Category, StartMessages.NotMigrating, null));
        }

        return app.Length == 0 ? 0 : Exec(terminal, app, format);
    }

    private static int Exec(Terminal terminal, string[] app, LogFormat format)
    {
        if (!terminal.OwnsProcess)
        {
            terminal.Err.WriteLine($"error: start can exec {app[0]} only as its own process (not in-process)");
            return (int)ExitCode.InvalidInput;
        }

        return ApplicationStart.Exec(app, format, terminal);
    }
}
