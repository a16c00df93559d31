using System.CommandLine;
using System.CommandLine.Invocation;
using System.Reflection;
using System.Runtime.InteropServices;

namespace TimeTrack.Migrations.Runner.Commands;

/// <summary>
/// --version: the runner's version, the .NET runtime it carries and the image revision, on one
/// line. The publish is self-contained, so the runtime (and its security patches) is whatever
/// the build stage's SDK bundled, not the host's: an operator needs to see it without a shell.
/// </summary>
public static class VersionOutput
{
    /// <summary>Set by the Dockerfile from its REVISION build argument (the commit the image was built from).</summary>
    public const string ImageRevisionVariable = "TIMETRACK_IMAGE_REVISION";

    public static void Install(RootCommand root)
    {
        foreach (var option in root.Options.OfType<VersionOption>())
        {
            option.Action = new PrintVersion();
        }
    }

    /// <summary>The runner's version (with the commit it was built from, when the build knew it).</summary>
    public static string RunnerVersion()
    {
        var assembly = typeof(VersionOutput).Assembly;
        return assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
               ?? assembly.GetName().Version?.ToString() ?? "unknown";
    }

    /// <param name="terminal">The invocation's terminal, whose environment may carry <see cref="ImageRevisionVariable"/>.</param>
    public static string Text(Terminal terminal)
    {
        var version = RunnerVersion();
        var revision = terminal.Variable(ImageRevisionVariable);
        var image = string.IsNullOrWhiteSpace(revision) ? "not built as an image" : $"image revision {revision.Trim()}";
        return $"timetrack-migrate {version} ({RuntimeInformation.FrameworkDescription}, {RuntimeInformation.RuntimeIdentifier}; {image})";
    }

    private sealed class PrintVersion : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            parseResult.InvocationConfiguration.Output.WriteLine(Text(Cli.TerminalOf(parseResult)));
            return 0;
        }
    }
}
