using System.Diagnostics;
using System.Text.Json;
using TimeTrack.Migrations.Runner.Output;
using TimeTrack.Migrations.Runner.Running;

namespace TimeTrack.Migrations.Runner.Lint;

/// <summary>
/// squawk (https://squawkhq.com, npm squawk-cli), run on the SQL each migration renders for
/// PostgreSQL: what it knows of SQL is not written again here. Its findings become lint findings
/// with the id <c>squawk/RULE</c>, allowed with <c>[AllowLint]</c> like ours.
/// </summary>
public static class Squawk
{
    public const string Prefix = "squawk/";

    /// <summary>
    /// squawk rules left out: style choices this schema made long ago (the legacy application's
    /// serial ids, varchar and timestamp columns), statements not written to be re-run (each step runs
    /// once, in its transaction), and timeouts the runner sets on its connection, not in the SQL.
    /// </summary>
    public static readonly string[] Excluded =
    [
        "prefer-robust-stmts", "prefer-bigint-over-int", "prefer-bigint-over-smallint", "prefer-identity",
        "prefer-text-field", "prefer-timestamp-tz", "require-lock-timeout", "require-statement-timeout", "require-timeout-settings",
    ];

    /// <summary>squawk's rules for the same things as ours: only ours are reported (they know whether the table is new, and what the previous release has).</summary>
    private static readonly Dictionary<string, string> SameAsOurs = new()
    {
        ["require-concurrent-index-creation"] = LintRules.IndexNotConcurrent.Id,
        ["adding-required-field"] = LintRules.NotNullWithoutDefault.Id,
        ["adding-not-nullable-field"] = LintRules.SetNotNull.Id,
        ["changing-column-type"] = LintRules.TypeChangeRewrites.Id,
        ["adding-foreign-key-constraint"] = LintRules.ConstraintNotValid.Id,
        ["constraint-missing-not-valid"] = LintRules.ConstraintNotValid.Id,
        ["ban-drop-column"] = LintRules.DropStillUsed.Id,
        ["ban-drop-table"] = LintRules.DropStillUsed.Id,
        ["renaming-column"] = LintRules.RenameStillUsed.Id,
        ["renaming-table"] = LintRules.RenameStillUsed.Id,
    };

    /// <summary>
    /// squawk's findings on one migration's rendered Up. Those of a rule that is one of ours are
    /// left to ours, which knows whether the table is new in the migration or an existing one and
    /// what the previous release's schema has (squawk sees one file at a time).
    /// </summary>
    internal static IEnumerable<MigrationLinter.Finding> Check(string squawk, KnownMigration migration, RenderedStep rendered)
    {
        var statements = rendered.Statements.Where(s => !s.StartsWith("-- code:", StringComparison.Ordinal))
            .Select(s => s.TrimEnd().EndsWith(';') ? s : s + ";").ToList();
        if (statements.Count == 0)
        {
            return [];
        }

        var file = Path.Combine(Path.GetTempPath(), $"timetrack-lint-{Environment.ProcessId}-{migration.Version}.sql");
        File.WriteAllText(file, string.Join("\n", statements) + "\n");
        try
        {
            var arguments = new List<string> { "--reporter", "json", "--exclude", string.Join(',', Excluded) };
            if (migration.Transactional)
            {
                arguments.Add("--assume-in-transaction");
            }

            arguments.Add(file);
            var lines = File.ReadAllLines(file);
            return Run(squawk, arguments)
                .Where(r => !SameAsOurs.ContainsKey(r.Rule))
                .Select(r => new MigrationLinter.Finding(
                    new LintRule(Prefix + r.Rule, r.Message, r.Help ?? $"see https://squawkhq.com/docs/{r.Rule}"),
                    "SQL: " + Shorten(r.Line >= 0 && r.Line < lines.Length ? lines[r.Line] : "")))
                .ToList();
        }
        finally
        {
            File.Delete(file);
        }
    }

    private sealed record Result(string Rule, string Message, string? Help, int Line);

    private static List<Result> Run(string squawk, IReadOnlyList<string> arguments)
    {
        var start = new ProcessStartInfo(squawk) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException("no process");
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            throw UserError.Invalid($"squawk could not be started ({squawk}): {e.Message}");
        }

        using (process)
        {
            var stderr = process.StandardError.ReadToEndAsync();
            var stdout = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            try
            {
                using var json = JsonDocument.Parse(stdout);
                return json.RootElement.EnumerateArray().Select(r => new Result(
                    r.GetProperty("rule_name").GetString() ?? "unknown",
                    r.GetProperty("message").GetString() ?? "",
                    r.TryGetProperty("help", out var help) && help.ValueKind == JsonValueKind.String ? help.GetString() : null,
                    r.TryGetProperty("line", out var line) && line.ValueKind == JsonValueKind.Number ? line.GetInt32() : -1)).ToList();
            }
            catch (JsonException)
            {
                throw new UserError(ExitCode.MigrationFailed, $"squawk ({squawk}) exited {process.ExitCode} without its JSON report: {stderr.Result.Trim()}");
            }
        }
    }

    private static string Shorten(string sql) => sql.Length <= 120 ? sql : sql[..117] + "...";

    /// <summary>The squawk to run: <paramref name="explicitPath"/>, else <c>squawk</c> on <paramref name="path"/> (the PATH variable), else none.</summary>
    public static string? Locate(string? explicitPath, string? path)
    {
        if (explicitPath is not null)
        {
            return explicitPath;
        }

        foreach (var dir in (path ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, "squawk");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}
