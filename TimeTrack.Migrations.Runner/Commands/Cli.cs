using System.CommandLine;
using System.Runtime.CompilerServices;
using TimeTrack.Migrations.Runner.Output;

namespace TimeTrack.Migrations.Runner.Commands;

/// <summary>
/// timetrack-migrate as a function: builds the commands, parses, maps parse errors to exit code 2
/// and runs the command, with every input and output through a <see cref="Terminal"/>. Program.cs
/// calls it with the real process; the tests call it in-process with their own terminal.
/// </summary>
public static class Cli
{
    public const string Description = """
        timetrack-migrate: TimeTrack's database migrations (PostgreSQL and SQLite).

        Exit codes: 0 success, 1 a migration failed (rolled back) or a backup or restore failed,
        2 usage or invalid input, 3 could not connect, 4 migration lock not acquired in time, 5 refused for safety,
        130 stopped by SIGINT (Ctrl-C), 143 stopped by SIGTERM (the step in progress rolled back).
        """;

    // The command tree is built once and only read afterwards: parsing does not change it, so
    // concurrent invocations (in-process tests) share it. Building it again per call would add
    // validators to the static options again and again (BaselineCommand's --from, say).
    private static readonly Lazy<RootCommand> Root = new(Build);

    // Each invocation's terminal and what was decided before it, found by the command handlers from their ParseResult.
    private static readonly ConditionalWeakTable<ParseResult, Invocation> Invocations = [];

    private sealed record Invocation(Terminal Terminal, bool Pending);

    /// <summary>
    /// Runs one invocation. <paramref name="cancel"/> is what stops it (Program.cs passes the
    /// SIGTERM/SIGINT token of <see cref="Interruption"/>, whose handlers it alone installs).
    /// </summary>
    /// <param name="pending">
    /// The no-op decision before it (Program.cs: NoOpStart, its own or the front's) read the version
    /// table and found migrations pending: a start to head goes to the lock without reading again.
    /// </param>
    public static async Task<int> RunAsync(string[] args, Terminal terminal, CancellationToken cancel, bool pending = false)
    {
        var parse = Root.Value.Parse(args);
        if (parse.Errors.Count > 0)
        {
            // System.CommandLine would print the whole help and return 1; one line and 2 is the contract.
            var messages = parse.Errors.Select(e => string.Join(' ', e.Message.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))).Distinct();
            // Masked: a URL given to a command that takes no --database-url is echoed as an unknown argument.
            var message = Databases.DatabaseUrl.Mask($"{string.Join("; ", messages)} (see timetrack-migrate --help)");
            await terminal.Err.WriteLineAsync($"error: {message}");
            if (args.Contains("--json"))
            {
                Handler.WriteJsonError(terminal.Out, ExitCode.InvalidInput, message);
            }

            await terminal.Out.FlushAsync(CancellationToken.None);
            await terminal.Err.FlushAsync(CancellationToken.None);
            return (int)ExitCode.InvalidInput;
        }

        Invocations.Add(parse, new Invocation(terminal, pending));
        try
        {
            // --help and --version write to the configuration's Output, so to the terminal's.
            var configuration = new InvocationConfiguration
            {
                EnableDefaultExceptionHandler = false,
                ProcessTerminationTimeout = null, // SIGTERM/SIGINT: our own handling (Output/Interruption.cs)
                Output = terminal.Out,
                Error = terminal.Err,
            };
            return await parse.InvokeAsync(configuration, cancel);
        }
        finally
        {
            Invocations.Remove(parse);
            await terminal.Out.FlushAsync(CancellationToken.None);
            await terminal.Err.FlushAsync(CancellationToken.None);
        }
    }

    /// <summary>The terminal of the invocation <paramref name="parse"/> belongs to.</summary>
    public static Terminal TerminalOf(ParseResult parse) => InvocationOf(parse).Terminal;

    /// <summary>Whether the decision before the invocation <paramref name="parse"/> belongs to found migrations pending.</summary>
    public static bool PendingOf(ParseResult parse) => InvocationOf(parse).Pending;

    private static Invocation InvocationOf(ParseResult parse) =>
        Invocations.TryGetValue(parse, out var invocation)
            ? invocation
            : throw new InvalidOperationException("a command was invoked other than through Cli.RunAsync");

    private static RootCommand Build()
    {
        var root = new RootCommand(Description)
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
            RestoreCommand.Create(),
            StartCommand.Create(),
        };

        // Names, aliases and shared options from the one list (CommandDefinitions): each command
        // lists in --help only the options it uses.
        foreach (var command in root.Subcommands)
        {
            var definition = CommandDefinitions.Find(command.Name) ?? throw new InvalidOperationException($"command {command.Name} is not in CommandDefinitions");
            foreach (var alias in definition.Aliases)
            {
                command.Aliases.Add(alias);
            }

            foreach (var option in definition.Options.Select(d => GlobalOptions.ByDefinition.GetValueOrDefault(d)).OfType<Option>().Where(o => !command.Options.Contains(o)))
            {
                command.Options.Add(option);
            }
        }

        VersionOutput.Install(root);
        return root;
    }
}
