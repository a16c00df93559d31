using TimeTrack.Migrations.Runner.Commands;
using TimeTrack.Migrations.Runner.Output;

namespace TimeTrack.Migrations.Runner.FastStart;

/// <summary>
/// start's last act, the full runner's (StartCommand, Program.cs at head) and the front's alike:
/// exec(3) of the application, which keeps the PID and gets the stop signals from then on.
/// </summary>
public static class ApplicationStart
{
    /// <summary>
    /// Execs <paramref name="app"/>, unless a stop signal came first
    /// (<see cref="Interruption.ReleaseForExec"/>): then the runner's line for a start that does not
    /// go on to the application, and 130/143. Returns only when it did not exec: that code, or
    /// 127 (as a shell's exec) when the program cannot be started.
    /// </summary>
    public static int Exec(IReadOnlyList<string> app, LogFormat format, Terminal terminal)
    {
        if (Interruption.ReleaseForExec())
        {
            var code = (int)Interruption.Code;
            terminal.Err.WriteLine(NotStartingLine(format, code, interrupted: true));
            terminal.Err.Flush();
            return code;
        }

        terminal.Err.WriteLine(LogLine.Format(format, "Information", LogLine.Category, StartMessages.Starting(app[0]), null));
        terminal.Out.Flush();
        terminal.Err.Flush();
        var failure = ProcessImage.Replace(app[0], [.. app.Skip(1)]);
        terminal.Err.WriteLine(LogLine.Format(format, "Error", LogLine.Category, StartMessages.CannotStart(app[0], failure), null));
        terminal.Err.Flush();
        return 127;
    }

    /// <summary>start's error line when it does not go on to the application (a failed or interrupted migration, or a signal before the exec).</summary>
    public static string NotStartingLine(LogFormat format, int code, bool interrupted) =>
        LogLine.Format(format, "Error", LogLine.Category, StartMessages.NotStarting(code, interrupted), null);
}
