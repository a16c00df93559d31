using System.Text.RegularExpressions;
using TimeTrack.Migrations.Tests.Infrastructure;

namespace TimeTrack.Migrations.Tests.Docs;

/// <summary>
/// What `timetrack-migrate --help` and `timetrack-migrate COMMAND --help` say, read the way a user
/// reads them: the commands with all their names, each command's options, the exit codes. The docs
/// are checked against this, so whatever the command tree becomes, the docs follow it.
/// </summary>
public sealed partial record CliHelp(
    IReadOnlyList<CliHelp.Command> Commands,
    IReadOnlySet<string> GlobalOptions,
    IReadOnlyDictionary<int, string> ExitCodes)
{
    /// <param name="Names">Every name the command answers to (its name and aliases), as --help lists them.</param>
    /// <param name="Options">Every option its --help lists (its own and the global ones), long and short names.</param>
    public sealed record Command(IReadOnlyList<string> Names, IReadOnlySet<string> Options)
    {
        public override string ToString() => string.Join(", ", Names);
    }

    // Options every command has that no doc needs to list.
    private static readonly HashSet<string> BuiltIn = ["-?", "-h", "--help", "--version"];

    public static async Task<CliHelp> ReadAsync()
    {
        var root = await HelpAsync([]);
        var globals = OptionNames(Section(root, "Options:"));
        var commands = new List<Command>();
        foreach (var line in Section(root, "Commands:"))
        {
            // "  create, new <message>  Generate ...": the names before any <argument>.
            var names = CommandNames().Match(line).Groups[1].Value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            var help = await HelpAsync([names[0]]);
            commands.Add(new Command(names, OptionNames(Section(help, "Options:"))));
        }

        commands.Count.ShouldBeGreaterThan(0, "timetrack-migrate --help lists no commands:\n" + root);
        return new CliHelp(commands, globals, ExitCodesOf(root));
    }

    public Command? Find(string name) => Commands.FirstOrDefault(c => c.Names.Contains(name));

    public bool IsOption(string option) => Commands.Any(c => c.Options.Contains(option)) || GlobalOptions.Contains(option);

    private static async Task<string> HelpAsync(string[] command)
    {
        var result = await InProcessRunner.RunAsync([.. command, "--help"]);
        result.ExitCode.ShouldBe(0, result.ToString());
        return result.Stdout;
    }

    // The lines of one section of the help ("Options:", "Commands:") that start an entry: indented
    // by two spaces exactly (a description that wraps continues further right).
    private static IEnumerable<string> Section(string help, string title) =>
        help.Split('\n').Select(l => l.TrimEnd('\r'))
            .SkipWhile(l => l != title).Skip(1)
            .TakeWhile(l => l.Length > 0)
            .Where(l => l.StartsWith("  ", StringComparison.Ordinal) && !l.StartsWith("   ", StringComparison.Ordinal));

    private static HashSet<string> OptionNames(IEnumerable<string> entries) =>
        entries.SelectMany(e => OptionEntry().Match(e).Groups[1].Value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            .Where(n => n.StartsWith('-') && !BuiltIn.Contains(n))
            .ToHashSet(StringComparer.Ordinal);

    // "Exit codes: 0 success, 1 a migration failed ..., 143 stopped by SIGTERM (...)." in the root description.
    private static Dictionary<int, string> ExitCodesOf(string help)
    {
        var start = help.IndexOf("Exit codes:", StringComparison.Ordinal);
        start.ShouldBeGreaterThanOrEqualTo(0, "timetrack-migrate --help no longer lists its exit codes after 'Exit codes:'; the docs test reads them there:\n" + help);
        var end = help.IndexOf("\n\n", start, StringComparison.Ordinal);
        var text = Regex.Replace(help[(start + "Exit codes:".Length)..(end < 0 ? help.Length : end)], @"\s+", " ").Trim();
        return ExitCodeEntry().Matches(text).ToDictionary(m => int.Parse(m.Groups[1].Value), m => m.Groups[2].Value.Trim().TrimEnd('.', ','));
    }

    [GeneratedRegex(@"^  ([^<\s][^<]*?)(?:\s+<|\s{2,}|$)")]
    private static partial Regex CommandNames();

    [GeneratedRegex(@"^  (-[^<]*?)(?:\s+<|\s{2,}|$)")]
    private static partial Regex OptionEntry();

    [GeneratedRegex(@"(?:^|, )(\d+) (.+?)(?=, \d+ |$)")]
    private static partial Regex ExitCodeEntry();
}
