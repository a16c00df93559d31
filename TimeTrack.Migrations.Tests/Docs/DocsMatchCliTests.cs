using System.Text.RegularExpressions;
using TimeTrack.Migrations.Tests.Infrastructure;

namespace TimeTrack.Migrations.Tests.Docs;

/// <summary>
/// The docs repeat what --help says (the commands, their options, the exit codes) in tables a user
/// can read; these tests hold the tables to the CLI, both ways, and name each missing or stale
/// entry with the file, the table and the name, so a changed command tree says which line to edit.
/// The tables: docs/manual.md's commands table (column "command"), its options table (column
/// "option") and its exit codes (column "code"); README.md's everyday commands (column
/// "timetrack-migrate") and its exit codes.
/// </summary>
public sealed partial class DocsMatchCliTests
{
    private const string Manual = "docs/manual.md";
    private const string Readme = "README.md";

    private static readonly Lazy<Task<CliHelp>> Help = new(CliHelp.ReadAsync);

    [Fact]
    public async Task Every_command_and_each_of_its_names_is_in_the_manual_and_every_command_the_docs_name_exists()
    {
        var cli = await Help.Value;
        var problems = new List<string>();
        var manualRows = CommandRows(Doc(Manual), "command", cli, problems);
        CommandRows(Doc(Readme), "timetrack-migrate", cli, problems);

        var named = manualRows.SelectMany(r => r.Names).ToHashSet(StringComparer.Ordinal);
        foreach (var command in cli.Commands)
        {
            problems.AddRange(command.Names.Where(n => !named.Contains(n)).Select(n =>
                $"{Manual}, the commands table: no row names `{n}` (timetrack-migrate --help lists the command '{command}'); " +
                $"add a row for it, or `{n}` to the row of its other name"));
        }

        ShouldHaveNone(problems);
    }

    [Fact]
    public async Task Every_option_is_in_the_manual_and_every_option_the_docs_name_exists()
    {
        var cli = await Help.Value;
        var problems = new List<string>();
        var manual = Doc(Manual);
        var commandRows = CommandRows(manual, "command", cli, problems: null);
        var tables = manual.TablesWithColumn("option");
        tables.ShouldNotBeEmpty($"{Manual} has no options table (a table with a column 'option')");
        var optionRows = (from table in tables
                          from row in table.Rows
                          select (Where: table.Where(row.Line), Options: Options(string.Join(" ", Markdown.CodeSpans(row.Cells[table.Column("option")]))).ToList())).ToList();
        var inOptionsTable = optionRows.SelectMany(r => r.Options).ToHashSet(StringComparer.Ordinal);

        problems.AddRange(cli.GlobalOptions.Where(o => !inOptionsTable.Contains(o)).Select(o =>
            $"{Manual}, the options table: no row names the global option `{o}` (timetrack-migrate --help lists it)"));
        foreach (var command in cli.Commands)
        {
            var inItsRows = commandRows.Where(r => r.Command == command).SelectMany(r => r.Options).ToHashSet(StringComparer.Ordinal);
            problems.AddRange(command.Options.Where(o => !cli.GlobalOptions.Contains(o) && !inItsRows.Contains(o) && !inOptionsTable.Contains(o)).Select(o =>
                $"{Manual}: the option `{o}` of '{command}' (timetrack-migrate {command.Names[0]} --help) is in neither the commands table's row for it nor the options table"));
        }

        foreach (var (where, options) in optionRows)
        {
            problems.AddRange(options.Where(o => !cli.IsOption(o)).Select(o =>
                $"{where}, the options table: `{o}` is an option of no command (timetrack-migrate COMMAND --help)"));
        }

        foreach (var row in commandRows.Concat(CommandRows(Doc(Readme), "timetrack-migrate", cli, problems: null)))
        {
            problems.AddRange(row.Options.Where(o => !row.Command.Options.Contains(o)).Select(o =>
                $"{row.Where}: `{o}` is not an option of '{row.Command}' (timetrack-migrate {row.Command.Names[0]} --help)"));
        }

        ShouldHaveNone(problems);
    }

    [Theory]
    [InlineData(Readme)]
    [InlineData(Manual)]
    public async Task The_exit_code_table_lists_exactly_the_exit_codes_of_the_cli(string file)
    {
        var cli = await Help.Value;
        var tables = Doc(file).TablesWithColumn("code")
            .Where(t => t.Rows.Count > 0 && t.Rows.All(r => int.TryParse(r.Cells[t.Column("code")], out _)))
            .ToList();
        tables.Count.ShouldBe(1, $"{file} should have one exit-code table (a table with a column 'code' of numbers)");
        var table = tables[0];
        var documented = table.Rows.ToDictionary(r => int.Parse(r.Cells[table.Column("code")]), r => table.Where(r.Line));

        var problems = new List<string>();
        problems.AddRange(cli.ExitCodes.Where(c => !documented.ContainsKey(c.Key)).Select(c =>
            $"{file}, the exit-code table: no row for {c.Key} (timetrack-migrate --help: '{c.Key} {c.Value}')"));
        problems.AddRange(documented.Where(d => !cli.ExitCodes.ContainsKey(d.Key)).Select(d =>
            $"{d.Value}, the exit-code table: {d.Key} is no exit code of timetrack-migrate --help (its codes: {string.Join(", ", cli.ExitCodes.Keys)})"));
        ShouldHaveNone(problems);
    }

    /// <param name="Names">The command words its code spans start with (`rollback [--to V]`, `downgrade`).</param>
    private sealed record CommandRow(string Where, CliHelp.Command Command, IReadOnlyList<string> Names, IReadOnlyList<string> Options);

    // The rows of the tables with the column: each span of that column names a command (its first
    // word) and its options. A span whose first word is no command is reported (problems given).
    private static List<CommandRow> CommandRows(Markdown doc, string column, CliHelp cli, List<string>? problems)
    {
        var tables = doc.TablesWithColumn(column);
        if (tables.Count == 0)
        {
            problems?.Add($"{doc.Path} has no table with a column '{column}' (the commands table the docs tests read)");
        }

        var rows = new List<CommandRow>();
        foreach (var table in tables)
        {
            foreach (var (line, cells) in table.Rows)
            {
                var spans = Markdown.CodeSpans(cells[table.Column(column)]).ToList();
                var words = spans.Select(s => CommandWord().Match(s)).Where(m => m.Success).Select(m => m.Value).ToList();
                problems?.AddRange(words.Where(w => cli.Find(w) is null).Select(w =>
                    $"{table.Where(line)}: `{w}` is no command of timetrack-migrate (--help lists: {string.Join("; ", cli.Commands)})"));
                var command = words.Select(cli.Find).FirstOrDefault(c => c is not null);
                if (command is not null)
                {
                    rows.Add(new CommandRow(table.Where(line), command, words, spans.SelectMany(Options).ToList()));
                }
            }
        }

        return rows;
    }

    private static IEnumerable<string> Options(string text) => OptionToken().Matches(text).Select(m => m.Value);

    private static Markdown Doc(string path) => Markdown.Read(TestDatabase.RepositoryRoot, path);

    private static void ShouldHaveNone(List<string> problems)
    {
        if (problems.Count > 0)
        {
            Assert.Fail($"the docs and timetrack-migrate --help disagree ({problems.Count}):\n  " + string.Join("\n  ", problems.Distinct()));
        }
    }

    [GeneratedRegex(@"^[a-z][a-z-]*(?=\s|$)")]
    private static partial Regex CommandWord();

    [GeneratedRegex(@"(?<![\w-])--?[a-zA-Z][\w-]*")]
    private static partial Regex OptionToken();
}
