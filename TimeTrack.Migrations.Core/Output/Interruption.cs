using System.Runtime.InteropServices;
using System.Text;
using TimeTrack.Migrations.Runner.Commands;

namespace TimeTrack.Migrations.Runner.Output;

/// <summary>
/// SIGTERM (docker stop, Kubernetes, a cancelled CI job) and SIGINT (Ctrl-C) stop the runner
/// cleanly instead of killing it: the signal cancels <see cref="Token"/>, which every command
/// already passes to its database calls; a migration step in progress has its statement
/// cancelled on the server (<see cref="Running.StepWatch"/>) and its transaction rolled
/// back; the migration lock is released and the connections closed on the way out; the runner
/// prints one line and exits 143 (SIGTERM) or 130 (SIGINT).
/// </summary>
/// <remarks>
/// Our own registration rather than System.CommandLine's (ProcessTerminationTimeout): that one
/// forces the exit code after a timeout while the step may still be running on the server, and
/// leaves the exception of the cancelled await to be reported as an unexpected error.
/// Later signals are ignored while it stops: the same Ctrl-C often arrives twice (from the
/// terminal to the whole process group, and forwarded by a wrapper such as entrypoint.sh), and
/// stopping takes well under a second. SIGKILL, where orchestrators escalate to, stays as safe as
/// before: the server rolls back what a vanished client left.
/// </remarks>
public static partial class Interruption
{
    private static readonly CancellationTokenSource Source = new();
    private static int _signal; // 0 until the first signal, then its number
    private static Registrations? _registrations; // Register's, until ReleaseForExec (or the process's end)

    /// <summary>Cancelled by the first SIGTERM or SIGINT.</summary>
    public static CancellationToken Token => Source.Token;

    /// <summary>True once a signal asked the runner to stop.</summary>
    public static bool Requested => Volatile.Read(ref _signal) != 0;

    /// <summary>"SIGTERM" or "SIGINT": the signal that asked the runner to stop.</summary>
    public static string SignalName => Volatile.Read(ref _signal) == (int)PosixSignal.SIGINT ? "SIGINT" : "SIGTERM";

    /// <summary>143 for SIGTERM, 130 for SIGINT.</summary>
    public static ExitCode Code => Volatile.Read(ref _signal) == (int)PosixSignal.SIGINT ? ExitCode.Interrupted : ExitCode.Terminated;

    /// <summary>Handles SIGTERM and SIGINT from now until <see cref="ReleaseForExec"/> or the process's end (once, at start-up).</summary>
    public static void Register() => _registrations = new Registrations(
        PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal),
        PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal));

    /// <summary>
    /// Just before exec(3) of another program: the handlers go first, then whether a signal came.
    /// True: one came while they were installed, and the caller must not exec (the stop was asked
    /// for; the program would never see it). False: none had, and from now on SIGTERM and SIGINT
    /// have the runtime's default action, which ends this process as it would end the program.
    /// </summary>
    /// <remarks>
    /// The runtime passes a signal to the handlers on a thread of its own: one taken by its handler
    /// in the microseconds before this call and not yet passed on can still be lost to the exec.
    /// Without this, every signal between the end of the migration and the exec was.
    /// </remarks>
    public static bool ReleaseForExec()
    {
        Interlocked.Exchange(ref _registrations, null)?.Dispose();
        return Requested;
    }

    /// <summary>
    /// Until disposed, the first stop signal is announced as it arrives: one warning line on the
    /// process's stderr, in the invocation's log format, so that what takes a while after it (a
    /// step's statement cancelled, its transaction rolled back) shows when the stop was asked for.
    /// Only for an invocation that owns the process (<see cref="Terminal.OwnsProcess"/>): null otherwise.
    /// </summary>
    /// <remarks>
    /// Written to file descriptor 2 by one write(2), not through <see cref="Console.Error"/> (which
    /// writes under the lock of <see cref="Console.Out"/>, held for as long as a write to a stdout
    /// nobody reads blocks) nor a FileStream (whose pwrite(2) on a file leaves the shared offset where
    /// it was, so the next line overwrites it). What it returns is not looked at: with stderr gone,
    /// the stop goes on unannounced. Registered first by each invocation, so that it runs after the
    /// cancellations registered later (a token runs its callbacks newest first).
    /// </remarks>
    public static IDisposable? AnnounceOnStandardError(Terminal terminal, LogFormat format) => !terminal.OwnsProcess ? null : Token.UnsafeRegister(_ =>
    {
        var line = Encoding.UTF8.GetBytes(LogLine.Format(format, "Warning", LogLine.Category, $"received {SignalName}: stopping", null) + "\n");
        _ = Write(2, line, line.Length);
    }, null);

    [LibraryImport("libc", EntryPoint = "write")]
    private static partial nint Write(int fd, [In] byte[] buffer, nint count);

    private sealed class Registrations(params PosixSignalRegistration[] registrations) : IDisposable
    {
        public void Dispose()
        {
            foreach (var registration in registrations)
            {
                registration.Dispose();
            }
        }
    }

    private static void OnSignal(PosixSignalContext context)
    {
        context.Cancel = true; // no default action (the end of the process): we stop by ourselves
        if (Interlocked.CompareExchange(ref _signal, (int)context.Signal, 0) == 0)
        {
            Source.Cancel(); // runs on the runtime's signal thread, not in the signal handler itself
        }
    }

    /// <summary>
    /// The one line for an interruption: "interrupted by SIGTERM: what; the database is at ...";
    /// "cancelled: ..." when the caller's token was cancelled without a signal (in-process use).
    /// </summary>
    public static UserError Error(string what) => new(Code, Requested ? $"interrupted by {SignalName}: {what}" : $"cancelled: {what}");

    /// <summary>
    /// The top level's answer to "which signal was it": a run stopped by the cancellation token
    /// (<see cref="MigrationInterruptedException"/>, which says what became of the step and where
    /// the database is) and any failure after a signal (a cancelled wait, read or statement: nothing
    /// was written yet) are the interruption, not errors of their own: one line with 130/143.
    /// </summary>
    public static Exception Explain(Exception e) => e switch
    {
        UserError { Code: ExitCode.Interrupted or ExitCode.Terminated } => e,
        MigrationInterruptedException stopped => Error(stopped.Message),
        _ when Requested => Error("nothing was changed"),
        _ => e,
    };
}

/// <summary>A migration run stopped by its cancellation token (a signal); the message says what happened to the step in progress.</summary>
public sealed class MigrationInterruptedException(string message, Exception? inner = null) : Exception(message, inner);
