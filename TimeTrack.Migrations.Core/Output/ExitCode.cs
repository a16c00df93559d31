namespace TimeTrack.Migrations.Runner.Output;

/// <summary>The documented exit codes of timetrack-migrate (README, --help).</summary>
public enum ExitCode
{
    Success = 0,
    /// <summary>A migration failed and was rolled back.</summary>
    MigrationFailed = 1,
    /// <summary>Usage error or invalid input (URL, version, options).</summary>
    InvalidInput = 2,
    /// <summary>Could not connect: host, port, credentials or database.</summary>
    ConnectionFailed = 3,
    /// <summary>Another runner held the migration lock past --lock-timeout.</summary>
    LockTimeout = 4,
    /// <summary>Refused for safety (unknown versions, out-of-order, unrecognised schema).</summary>
    Refused = 5,
    /// <summary>Stopped by SIGINT (Ctrl-C): 128 + 2, the shell's convention for a signal.</summary>
    Interrupted = 130,
    /// <summary>Stopped by SIGTERM (docker stop, a cancelled CI job): 128 + 15.</summary>
    Terminated = 143,
}

/// <summary>
/// An error meant for the person or script that ran the command: printed as one line, no
/// stack trace, and mapped to its exit code. Messages must never contain a password.
/// </summary>
public sealed class UserError(ExitCode code, string message, Exception? inner = null) : Exception(message, inner)
{
    public ExitCode Code { get; } = code;

    public static UserError Invalid(string message) => new(ExitCode.InvalidInput, message);
}
