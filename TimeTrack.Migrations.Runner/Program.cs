using TimeTrack.Migrations.Runner.Commands;
using TimeTrack.Migrations.Runner.Output;

// timetrack-migrate: the process around Cli.RunAsync (Commands/Cli.cs), which does the work.
// SIGTERM/SIGINT: our own handling (Output/Interruption.cs), installed here only: it is the process's.
using var signals = Interruption.Register();
return await Cli.RunAsync(args, Terminal.FromProcess(), Interruption.Token);
