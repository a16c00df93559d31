using System.CommandLine;
using TimeTrack.Migrations.Runner.Lint;

namespace TimeTrack.Migrations.Runner.Commands;

/// <summary>
/// `lint`: the migrations' changes that lock or rewrite an existing table, or break the release
/// still running during a rolling deploy (Lint/). Exit 5 when a finding is not allowed, 0 otherwise.
/// </summary>
public static class LintCommand
{
    public static readonly Option<string> Format = new("--format")
    {
        HelpName = "text|github", DefaultValueFactory = _ => "text",
        Description = "text (default), or github: ::warning/::notice annotations on the migrations' source lines",
    };

    public static readonly Option<string?> SquawkPath = new("--squawk")
    {
        HelpName = "path", Description = "squawk to run on each migration's SQL (default: squawk on PATH, if any)",
    };

    public static readonly Option<bool> NoSquawk = new("--no-squawk") { Description = "Do not run squawk even when it is on PATH" };

    public static Command Create()
    {
        Format.AcceptOnlyFromAmong("text", "github");
        var command = new Command("lint", "Find migration changes unsafe on a PostgreSQL database in use (locks, rewrites, expand/contract)")
        {
            Format, SquawkPath, NoSquawk,
        };
        command.SetAction((parse, cancel) => Handler.RunAsync(parse, ctx =>
            RunAsync(ctx, parse.GetValue(Format)!, parse.GetValue(NoSquawk) ? null : Squawk.Locate(parse.GetValue(SquawkPath), ctx.Terminal.Variable("PATH")), cancel)));
        return command;
    }

    public static async Task<int> RunAsync(CommandContext ctx, string format, string? squawk, CancellationToken cancel)
    {
        var findings = await MigrationLinter.LintAsync(ctx.Catalog, squawk, ctx.Terminal.WorkingDirectory, cancel);
        var failing = findings.Count(f => !f.Allowed);
        if (format == "github" && !ctx.Settings.Json)
        {
            foreach (var f in findings)
            {
                ctx.Out.WriteLine(GitHub(f));
            }
        }

        ctx.Result(
            new
            {
                command = "lint",
                squawk = squawk is not null,
                passed = failing == 0,
                findings = findings.Select(ToJson),
            },
            format == "github" ? [Summary(findings, squawk)] : [.. findings.Select(Text), Summary(findings, squawk)]);
        return failing == 0 ? 0 : (int)Output.ExitCode.Refused;
    }

    public static string Text(LintFinding f) =>
        $"{(f.Allowed ? "allowed" : "unsafe")} [{f.RuleId}] {f.Version} {f.MigrationClass}{(f.File is null ? "" : $" ({f.File}:{f.Line})")}: {f.Subject}\n" +
        $"    {f.Explanation}\n" +
        (f.Allowed ? $"    allowed because: {f.AllowedBecause}" : $"    instead: {f.SafeAlternative}\n    or, if it is safe here: [AllowLint(\"{f.RuleId}\", \"why\")] on {f.MigrationClass}");

    /// <summary>A GitHub Actions workflow command on the migration's source line (from its PDB): a warning for a finding that fails the lint, a notice for an allowed one.</summary>
    public static string GitHub(LintFinding f)
    {
        var properties = new List<string>();
        if (f.File is not null)
        {
            properties.Add($"file={Escape(f.File, property: true)}");
            properties.Add($"line={f.Line}");
        }

        properties.Add($"title={Escape($"{f.RuleId} ({f.Version})", property: true)}");
        var message = $"{f.MigrationClass}: {f.Subject}. {f.Explanation}. " + (f.Allowed ? $"Allowed: {f.AllowedBecause}" : $"Instead: {f.SafeAlternative}");
        return $"::{(f.Allowed ? "notice" : "warning")} {string.Join(',', properties)}::{Escape(message, property: false)}";
    }

    private static string Escape(string value, bool property)
    {
        var escaped = value.Replace("%", "%25", StringComparison.Ordinal).Replace("\r", "%0D", StringComparison.Ordinal).Replace("\n", "%0A", StringComparison.Ordinal);
        return property ? escaped.Replace(":", "%3A", StringComparison.Ordinal).Replace(",", "%2C", StringComparison.Ordinal) : escaped;
    }

    public static object ToJson(LintFinding f) => new
    {
        rule = f.RuleId, version = f.Version, migration = f.MigrationClass, subject = f.Subject, explanation = f.Explanation,
        safeAlternative = f.SafeAlternative, allowed = f.Allowed, reason = f.AllowedBecause, file = f.File, line = f.Line,
    };

    public static string Summary(IReadOnlyList<LintFinding> findings, string? squawk) => Summary(findings, findings.Count(f => !f.Allowed), squawk);

    private static string Summary(IReadOnlyList<LintFinding> findings, int failing, string? squawk) =>
        (failing == 0 ? "lint passed" : $"lint failed: {failing} unsafe change(s)") +
        $" ({findings.Count - failing} allowed; {MigrationLinter.RuleCount} rules of our own, " +
        (squawk is null ? "squawk not run: pass --squawk PATH or put it on PATH" : "and squawk's") + ")";
}
