using TimeTrack.Migrations.Runner.Commands;
using TimeTrack.Migrations.Runner.FastStart;
using TimeTrack.Migrations.Runner.Output;
using TimeTrack.Migrations.Runner.Running;

// timetrack-migrate: the process around Cli.RunAsync (Commands/Cli.cs), which does the work.
// SIGTERM/SIGINT: our own handling (Output/Interruption.cs), installed here only: it is the process's.
Interruption.Register(); // released just before an exec (ApplicationStart.Exec)
var terminal = Terminal.FromProcess();

// A start at head (init, up, start): the front's decision (Core NoOpStart: one connection, one round trip)
// before anything is built (commands, services, the catalog), with the runner's own lines; any doubt goes on below.
var noOp = await NoOpStart.RunAsync(args, terminal, () => MigrationManifest.Load(typeof(TimeTrack.Migrations.Migrations.TimeTrackMigration).Assembly),
    Interruption.Token);
if (noOp.HandOver is null)
{
    if (noOp.App is null)
    {
        return noOp.ExitCode;
    }

    return ApplicationStart.Exec(noOp.App.Request.App, noOp.App.LogFormat, terminal);
}

return await Cli.RunAsync(args, terminal, Interruption.Token, noOp.Pending);
