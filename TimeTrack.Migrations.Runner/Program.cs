using System.CommandLine;
using TimeTrack.Migrations.Runner.Commands;
using TimeTrack.Migrations.Runner.Output;

// timetrack-migrate: builds the commands, parses, and maps parse errors to exit code 2.
var root = new RootCommand("""
    timetrack-migrate: TimeTrack's database migrations (PostgreSQL and SQLite).

    Exit codes: 0 success, 1 a migration failed (rolled back), 2 usage or invalid input,
    3 could not connect, 4 migration lock not acquired in time, 5 refused for safety,
    130 stopped by SIGINT (Ctrl-C), 143 stopped by SIGTERM (the step in progress rolled back).
    """)
{
    StatusCommand.Create(),
    InitCommand.Create(),
    UpCommand.Create(),
    RollbackCommand.Create(),
    StampCommand.Create(),
    StampCommand.CreateMarkCurrent(),
    ScriptCommand.Create(),
    NewCommand.Create(),
    BaselineCommand.Create(),
    CheckCommand.Create(),
    ManifestCommand.Create(),
    LintCommand.Create(),
};
foreach (var option in GlobalOptions.All)
{
    root.Options.Add(option);
}

VersionOutput.Install(root);

var parse = root.Parse(args);
if (parse.Errors.Count > 0)
{
    // System.CommandLine would print the whole help and return 1; one line and 2 is the contract.
    var messages = parse.Errors.Select(e => string.Join(' ', e.Message.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))).Distinct();
    var message = $"{string.Join("; ", messages)} (see timetrack-migrate --help)";
    Console.Error.WriteLine($"error: {message}");
    if (args.Contains("--json"))
    {
        Handler.WriteJsonError(ExitCode.InvalidInput, message);
    }

    return (int)ExitCode.InvalidInput;
}

// SIGTERM/SIGINT: our own handling (Output/Interruption.cs) instead of System.CommandLine's.
using var signals = Interruption.Register();
return await parse.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null }, Interruption.Token);
