using System.Runtime.InteropServices;

namespace TimeTrack.Migrations.Runner.Output;

/// <summary>
/// exec(3): this process becomes another program, keeping its PID, stdio and environment, so that
/// the program gets the stop signals and its exit code is the container's. The front uses it to
/// hand over to the full runner, <c>start</c> to become the application.
/// </summary>
public static partial class ProcessImage
{
    /// <summary>Replaces this process with <paramref name="file"/> (searched on PATH when it has no '/'); returns only on failure, with the reason.</summary>
    public static string Replace(string file, IReadOnlyList<string> args)
    {
        // Everything that allocates first: between the signal changes and execvp, as little as can be.
        var argv = new nint[args.Count + 2];
        argv[0] = Marshal.StringToCoTaskMemUTF8(file);
        for (var i = 0; i < args.Count; i++)
        {
            argv[i + 1] = Marshal.StringToCoTaskMemUTF8(args[i]);
        }

        Console.Out.Flush();
        Console.Error.Flush();
        // .NET ignores SIGPIPE and may block signals on this thread: the new program starts with the defaults.
        _ = Signal(SigPipe, SigDfl);
        _ = SigProcMask(SigSetMask, new byte[128], null);
        ExecVp(argv[0], argv);
        var failure = Marshal.GetLastPInvokeErrorMessage();
        // Still this program: ignored again, so that the caller's error line to a closed stderr is an
        // error it can survive (and exit 127 after), not a SIGPIPE that ends the process unexplained.
        _ = Signal(SigPipe, SigIgn);
        return failure;
    }

    private const int SigPipe = 13;
    private const nint SigDfl = 0;
    private const nint SigIgn = 1;
    private const int SigSetMask = 2;

    [LibraryImport("libc", EntryPoint = "execvp", SetLastError = true)]
    private static partial int ExecVp(nint file, [In] nint[] argv);

    [LibraryImport("libc", EntryPoint = "signal")]
    private static partial nint Signal(int signal, nint handler);

    [LibraryImport("libc", EntryPoint = "sigprocmask")]
    private static partial int SigProcMask(int how, [In] byte[] set, byte[]? old);
}
