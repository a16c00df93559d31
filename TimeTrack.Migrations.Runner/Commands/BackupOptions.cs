using System.CommandLine;
using TimeTrack.Migrations.Runner.Running;
using TimeTrack.Migrations.Runner.Settings;

namespace TimeTrack.Migrations.Runner.Commands;

/// <summary>
/// --backup DIR, --backup-keep N, --backup-optional: on the commands that change a database (up,
/// init, rollback, stamp, mark-current), and --backup on status (when the last backup was taken).
/// An option wins over its TIMETRACK_BACKUP_* variable.
/// </summary>
public static class BackupOptions
{
    public static readonly Option<string?> Directory = new(OptionDefinitions.Backup.Name)
    {
        HelpName = "dir",
        Description = "Before changing anything, write a backup of the database into this directory (pg_dump --format=custom; SQLite: a copy of the file); never when there is nothing to do (env TIMETRACK_BACKUP_DIR or MIGRATE_BACKUP_DIR)",
    };

    public static readonly Option<int?> Keep = new(OptionDefinitions.BackupKeep.Name)
    {
        HelpName = "n",
        Description = "Keep the n newest backups of this database in the --backup directory, remove older ones (default: keep all; env TIMETRACK_BACKUP_KEEP or MIGRATE_BACKUP_KEEP)",
    };

    public static readonly Option<bool> Optional = new(OptionDefinitions.BackupOptional.Name)
    {
        Description = "A backup that fails is a warning and the migration goes ahead (default: exit 1, nothing changed; env TIMETRACK_BACKUP_OPTIONAL or MIGRATE_BACKUP_OPTIONAL=true)",
    };

    /// <summary>Adds the options to a command that changes the database.</summary>
    public static Command AddTo(Command command)
    {
        command.Options.Add(Directory);
        command.Options.Add(Keep);
        command.Options.Add(Optional);
        return command;
    }

    /// <summary>The invocation's policy (<see cref="BackupPolicy.Resolve"/>), or null when it asks for no backup or its command takes no --backup.</summary>
    public static BackupPolicy? Resolve(ParseResult parse, Terminal terminal)
    {
        if (!parse.CommandResult.Command.Options.Contains(Directory))
        {
            return null;
        }

        var takesKeep = parse.CommandResult.Command.Options.Contains(Keep);
        return BackupPolicy.Resolve(parse.GetValue(Directory), takesKeep ? parse.GetValue(Keep) : null, parse.GetValue(Optional), takesKeep, terminal);
    }
}
