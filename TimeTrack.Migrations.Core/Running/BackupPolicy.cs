using TimeTrack.Migrations.Runner.Commands;
using TimeTrack.Migrations.Runner.Output;
using TimeTrack.Migrations.Runner.Settings;

namespace TimeTrack.Migrations.Runner.Running;

/// <summary>--backup DIR, --backup-keep N, --backup-optional.</summary>
/// <param name="Keep">How many backups of this database to keep in the directory; null: all.</param>
/// <param name="Optional">A failed backup is a warning, and the migration goes ahead without one.</param>
/// <remarks>
/// Without System.CommandLine (the runner's BackupOptions reads the options): the NativeAOT front
/// compiles this file to check the settings as the runner does before it answers a no-op start.
/// </remarks>
public sealed record BackupPolicy(string Directory, int? Keep, bool Optional)
{
    /// <summary>
    /// The invocation's policy from its options and TIMETRACK_BACKUP_*, or null when it asks for no
    /// backup. The directory must exist: it is where a volume is mounted, and a missing one means a
    /// missing volume (never created, as SQLite's directory is not).
    /// </summary>
    /// <param name="takesKeep">The command takes --backup-keep and --backup-optional (status takes --backup only).</param>
    public static BackupPolicy? Resolve(string? directoryOption, int? keepOption, bool optionalOption, bool takesKeep, Terminal terminal)
    {
        // The settings as every other: RunnerEnvironment's case, number and switch rules, MIGRATE_BACKUP_* as aliases.
        var environment = new RunnerEnvironment(terminal);
        var directory = directoryOption ?? environment[OptionDefinitions.Backup.Setting!];
        if (string.IsNullOrEmpty(directory))
        {
            return null;
        }

        var full = terminal.FullPath(directory);
        if (!System.IO.Directory.Exists(full))
        {
            throw UserError.Invalid($"--backup: the directory {full} does not exist (is the backup volume mounted?)");
        }

        var keep = takesKeep ? keepOption ?? environment.Whole(OptionDefinitions.BackupKeep) : null;
        if (keep is < 1)
        {
            throw UserError.Invalid($"--backup-keep must be 1 or more, not {keep}");
        }

        var optional = takesKeep && environment.Switch(OptionDefinitions.BackupOptional, optionalOption);
        return new BackupPolicy(full, keep, optional);
    }
}
