namespace TimeTrack.Migrations.Migrations;

/// <summary>
/// Overrides, for one migration, the timeouts the runner gives each of its transactional steps
/// on PostgreSQL (<c>--ddl-lock-timeout</c>, <c>--statement-timeout</c>). A property left unset
/// keeps the runner's setting; 0 turns that timeout off for this migration. Read once, from the
/// class, by the runner's migration catalog; not part of the migration's checksum.
/// </summary>
/// <example>
/// A long data step that must not be cut short by --statement-timeout:
/// <code>[StepTimeouts(StatementTimeoutSeconds = 0)]</code>
/// A step on a hot table that should give up sooner than the runner's default:
/// <code>[StepTimeouts(LockTimeoutSeconds = 1)]</code>
/// </example>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class StepTimeoutsAttribute : Attribute
{
    /// <summary>The value of a property that was not set: the runner's setting applies.</summary>
    public const int Unset = -1;

    /// <summary>
    /// Seconds the step's statements may wait for a table lock before the attempt is rolled back
    /// and retried (PostgreSQL <c>lock_timeout</c>); 0: wait as long as it takes, no retries.
    /// </summary>
    public int LockTimeoutSeconds { get; set; } = Unset;

    /// <summary>Seconds any one statement of the step may run (PostgreSQL <c>statement_timeout</c>); 0: no limit.</summary>
    public int StatementTimeoutSeconds { get; set; } = Unset;
}
