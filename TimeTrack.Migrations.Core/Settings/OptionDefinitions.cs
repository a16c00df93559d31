namespace TimeTrack.Migrations.Runner.Settings;

/// <summary>How an option's value is read (on the command line and from its setting).</summary>
public enum OptionValue
{
    /// <summary>A switch (no value); its setting is true or false.</summary>
    Switch,

    /// <summary>Text as given.</summary>
    Text,

    /// <summary>Whole seconds, 0 or more.</summary>
    Seconds,

    /// <summary>A whole number from 0 to 100.</summary>
    Count,
}

/// <summary>
/// One option of timetrack-migrate: its name, what it reads when not given (<see cref="Setting"/>,
/// see <see cref="RunnerEnvironment"/>) and its default. The runner builds its System.CommandLine
/// options from these, the NativeAOT front its no-op grammar: neither spells a name or a default again.
/// </summary>
/// <param name="Setting">The setting's key after TIMETRACK_ (TIMETRACK_WAIT: "WAIT"); null: none.</param>
/// <param name="NoOpSafe">Given to init or up on a database at head with every checksum matching, it changes nothing they print (the front may answer).</param>
public sealed record OptionDefinition(string Name, OptionValue Value, string? Setting = null, int Default = 0, string? Alias = null, bool NoOpSafe = true);

/// <summary>Every option some command takes that the front or the settings resolver needs to know.</summary>
public static class OptionDefinitions
{
    public static readonly OptionDefinition DatabaseUrl = new("--database-url", OptionValue.Text, "DATABASE_URL");
    public static readonly OptionDefinition Json = new("--json", OptionValue.Switch);
    public static readonly OptionDefinition LogFormat = new("--log-format", OptionValue.Text, "LOG_FORMAT");
    public static readonly OptionDefinition Verbose = new("--verbose", OptionValue.Switch, Alias: "-v", NoOpSafe: false);
    /// <summary>PostgreSQL: the role every session of the runner (and pg_dump, the restore) switches to with SET ROLE after connecting.</summary>
    public static readonly OptionDefinition Role = new("--role", OptionValue.Text, "DATABASE_ROLE");
    public static readonly OptionDefinition MigrationsAssembly = new("--migrations-assembly", OptionValue.Text, "MIGRATIONS_ASSEMBLY", NoOpSafe: false);

    /// <summary>300 s: a long migration of another runner (a container start beside a deploy job) ends before it.</summary>
    public static readonly OptionDefinition LockTimeout = new("--lock-timeout", OptionValue.Seconds, "LOCK_TIMEOUT", 300);

    /// <summary>0 on the command line (fail at once); <see cref="StartWait"/> for a container start.</summary>
    public static readonly OptionDefinition Wait = new("--wait", OptionValue.Seconds, "WAIT", 0);

    /// <summary>Defaults: see <see cref="Running.DdlRetryPolicy.Default"/> (built from these).</summary>
    public static readonly OptionDefinition DdlLockTimeout = new("--ddl-lock-timeout", OptionValue.Seconds, "DDL_LOCK_TIMEOUT", 3);
    public static readonly OptionDefinition DdlRetries = new("--ddl-retries", OptionValue.Count, "DDL_RETRIES", 8);
    public static readonly OptionDefinition DdlRetryFor = new("--ddl-retry-for", OptionValue.Seconds, "DDL_RETRY_FOR", 60);
    public static readonly OptionDefinition StatementTimeout = new("--statement-timeout", OptionValue.Seconds, "STATEMENT_TIMEOUT", 0);

    /// <summary>10 s: a long step shows it is alive well within an orchestrator's or an operator's patience; 0: no heartbeat.</summary>
    public static readonly OptionDefinition ProgressInterval = new("--progress-interval", OptionValue.Seconds, "PROGRESS_INTERVAL", 10);

    public static readonly OptionDefinition Backup = new("--backup", OptionValue.Text, "BACKUP_DIR");
    public static readonly OptionDefinition BackupKeep = new("--backup-keep", OptionValue.Count, "BACKUP_KEEP");
    public static readonly OptionDefinition BackupOptional = new("--backup-optional", OptionValue.Switch, "BACKUP_OPTIONAL");

    public static readonly OptionDefinition AllowUnknown = new("--allow-unknown", OptionValue.Switch);
    public static readonly OptionDefinition AllowOutOfOrder = new("--allow-out-of-order", OptionValue.Switch);
    public static readonly OptionDefinition AllowChanged = new("--allow-changed", OptionValue.Switch);

    /// <summary>init's: a target; only <c>head</c> is no-op-safe (<see cref="TargetVersion"/>).</summary>
    public static readonly OptionDefinition InitTo = new("--to", OptionValue.Text, "TARGET_VERSION");
    public static readonly OptionDefinition AllowDowngrade = new("--allow-downgrade", OptionValue.Switch, "ALLOW_DOWNGRADE");
    public static readonly OptionDefinition Force = new("--force", OptionValue.Switch);

    /// <summary>The container start's wait for the database: the server may still be starting beside it.</summary>
    public const int StartWait = 60;

    /// <summary>The options with a number value (the front checks each as the runner does).</summary>
    public static readonly IReadOnlyList<OptionDefinition> Numbers = [LockTimeout, Wait, DdlLockTimeout, DdlRetries, DdlRetryFor, StatementTimeout, ProgressInterval];
}
