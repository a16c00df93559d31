using System.Globalization;
using TimeTrack.Migrations.Runner.Commands;
using TimeTrack.Migrations.Runner.Output;

namespace TimeTrack.Migrations.Runner.Running;

/// <summary>--backup DIR, --backup-keep N, --backup-optional.</summary>
/// <param name="Keep">How many backups of this database to keep in the directory; null: all.</param>
/// <param name="Optional">A failed backup is a warning, and the migration goes ahead without one.</param>
/// <remarks>
/// Without System.CommandLine (<see cref="BackupOptions"/> reads the options): the NativeAOT front
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
        var directory = directoryOption ?? terminal.Variable("TIMETRACK_BACKUP_DIR");
        if (string.IsNullOrEmpty(directory))
        {
            return null;
        }

        var full = terminal.FullPath(directory);
        if (!System.IO.Directory.Exists(full))
        {
            throw UserError.Invalid($"--backup: the directory {full} does not exist (is the backup volume mounted?)");
        }

        var keepText = terminal.Variable("TIMETRACK_BACKUP_KEEP");
        var keep = takesKeep ? keepOption : null;
        if (takesKeep && keep is null && !string.IsNullOrEmpty(keepText))
        {
            keep = int.TryParse(keepText, NumberStyles.None, CultureInfo.InvariantCulture, out var k)
                ? k
                : throw UserError.Invalid($"--backup-keep: '{keepText}' from the environment is not a whole number");
        }

        if (keep is < 1)
        {
            throw UserError.Invalid($"--backup-keep must be 1 or more, not {keep}");
        }

        var optional = takesKeep && (optionalOption || terminal.Variable("TIMETRACK_BACKUP_OPTIONAL") is "true");
        return new BackupPolicy(full, keep, optional);
    }
}
