using TimeTrack.Migrations.Runner.Settings;
using static TimeTrack.Migrations.Runner.Settings.OptionDefinitions;

namespace TimeTrack.Migrations.Runner.Commands;

/// <summary>A command of timetrack-migrate: its name, its other names, and the shared options it takes.</summary>
/// <param name="Options">The options of <see cref="OptionDefinitions"/> it takes (the runner adds its command-specific others).</param>
public sealed record CommandDefinition(string Name, IReadOnlyList<string> Aliases, IReadOnlyList<OptionDefinition> Options)
{
    public bool IsNamed(string word) => word == Name || Aliases.Contains(word);
}

/// <summary>
/// The command list, once: the runner's command tree takes its names and aliases from here (a
/// test checks it has exactly these), the container start (<c>start</c>) and the front decide
/// from it whether a word is a runner command. The Flask-Migrate names of the seed's migrate.sh
/// are aliases: downgrade = rollback, apply = up, create = new.
/// </summary>
public static class CommandDefinitions
{
    private static readonly OptionDefinition[] Output = [Json, LogFormat, Verbose];
    private static readonly OptionDefinition[] Connect = [DatabaseUrl, Role, Wait, MigrationsAssembly];
    private static readonly OptionDefinition[] Steps = [LockTimeout, DdlLockTimeout, DdlRetries, DdlRetryFor, StatementTimeout, ProgressInterval];
    private static readonly OptionDefinition[] Backups = [Backup, BackupKeep, BackupOptional];

    private static readonly OptionDefinition[] Changes = [.. Output, .. Connect, .. Steps, .. Backups];

    public static readonly CommandDefinition Status = new("status", [], [.. Output, .. Connect, Backup]);
    public static readonly CommandDefinition Init = new("init", [], [.. Changes, AllowUnknown, AllowOutOfOrder, AllowChanged, InitTo, AllowDowngrade, Force]);
    public static readonly CommandDefinition Up = new("up", ["apply"], [.. Changes, AllowUnknown, AllowOutOfOrder, AllowChanged]);
    public static readonly CommandDefinition Rollback = new("rollback", ["downgrade"], [.. Changes, AllowChanged]);
    public static readonly CommandDefinition Stamp = new("stamp", [], Changes);
    public static readonly CommandDefinition MarkCurrent = new("mark-current", [], Changes);
    public static readonly CommandDefinition Script = new("script", [], [.. Output, .. Connect]);
    public static readonly CommandDefinition New = new("new", ["create"], [.. Output, MigrationsAssembly]);
    public static readonly CommandDefinition Baseline = new("baseline", [], [.. Output, .. Connect]);
    public static readonly CommandDefinition Check = new("check", [], [.. Output, .. Connect]);
    public static readonly CommandDefinition Manifest = new("manifest", [], [.. Output, MigrationsAssembly]);
    public static readonly CommandDefinition Lint = new("lint", [], [.. Output, MigrationsAssembly]);
    public static readonly CommandDefinition Restore = new("restore", [], [.. Output, .. Connect, LockTimeout]);

    /// <summary>The container start: migrate as init does (its settings MIGRATE_* or TIMETRACK_*), then exec the application.</summary>
    public static readonly CommandDefinition Start = new("start", [], Init.Options);

    public static readonly IReadOnlyList<CommandDefinition> All = [Status, Init, Up, Rollback, Stamp, MarkCurrent, Script, New, Baseline, Check, Manifest, Lint, Restore, Start];

    /// <summary>The command <paramref name="word"/> names, under any of its names; null: none.</summary>
    public static CommandDefinition? Find(string word) => All.FirstOrDefault(c => c.IsNamed(word));

    /// <summary>
    /// Whether <c>start -- WORD ...</c> is an invocation of the runner rather than an application:
    /// a command under any of its names, or an option (--help, --version, --json ...).
    /// </summary>
    public static bool IsRunnerInvocation(string word) => word.StartsWith('-') || Find(word) is not null;

    /// <summary>The image's programs besides the runner's commands: <c>start -- HELPER</c> runs them without migrating first.</summary>
    public static readonly IReadOnlyList<string> ImageHelpers = ["timetrack-migrate", "migrate.sh", "ci-migrate.sh"];

    /// <summary>Whether <c>start -- WORD ...</c> runs without the start-up migration: a runner invocation or an image helper.</summary>
    public static bool RunsWithoutMigrating(string word) => IsRunnerInvocation(word) || ImageHelpers.Contains(word);
}
