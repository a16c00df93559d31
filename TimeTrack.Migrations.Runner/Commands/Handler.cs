using System.CommandLine;
using Microsoft.Extensions.Logging;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Runner.Output;

namespace TimeTrack.Migrations.Runner.Commands;

/// <summary>
/// Runs a command handler and turns every failure into one line on stderr and its exit code:
/// <see cref="UserError"/> as it is; anything else as "unexpected error" (stack trace with --verbose).
/// </summary>
public static class Handler
{
    public static async Task<int> RunAsync(ParseResult parse, Func<CommandContext, Task<int>> handler)
    {
        CommandContext? ctx = null;
        var terminal = Cli.TerminalOf(parse);
        var json = parse.GetValue(GlobalOptions.Json);
        try
        {
            ctx = new CommandContext(GlobalOptions.Resolve(parse, terminal), terminal)
            {
                Backup = BackupOptions.Resolve(parse, terminal),
                KnownPending = Cli.PendingOf(parse),
            };
            return await handler(ctx);
        }
        catch (Exception e)
        {
            e = Interruption.Explain(e); // after SIGTERM/SIGINT a cancelled wait or read is the interruption, not an error
            e = e is UserError || ctx is null ? e : ctx.Target.Provider.Classify(e, ctx.Target) ?? e; // the database's error codes
            var (code, message) = e is UserError user ? (user.Code, user.Message) : (ExitCode.MigrationFailed, $"unexpected error: {e.GetType().Name}: {e.Message}");
            var redactor = ctx?.Redactor ?? new Redactor();
            message = redactor.Redact(message);
            if (ctx is null)
            {
                await terminal.Err.WriteLineAsync($"error: {LogLine.Printable(message)}");
            }
            else
            {
                ctx.Log.LogError("{Message}", message);
                if (ctx.Settings.Verbose && e is not UserError)
                {
                    ctx.Log.LogError("{StackTrace}", redactor.Redact(e.ToString()));
                }
            }

            if (json)
            {
                WriteJsonError(terminal.Out, code, message);
            }

            return (int)code;
        }
        finally
        {
            ctx?.Dispose(); // flushes the log
        }
    }

    /// <summary>The JSON document of a failure on stdout (--json): every failure, parse errors included, has one.</summary>
    public static void WriteJsonError(TextWriter stdout, ExitCode code, string message) =>
        stdout.WriteLine(ErrorDocument.Serialize(code, message));
}
