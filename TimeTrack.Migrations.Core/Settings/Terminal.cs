using System.Collections;

namespace TimeTrack.Migrations.Runner.Commands;

/// <summary>
/// What one invocation of the runner reads and writes outside its arguments: stdout, stderr, the
/// environment variables and the working directory. Program.cs makes it from the real process
/// (<see cref="FromProcess"/>); tests make their own, so that many runs share one process without
/// sharing its console, environment or current directory.
/// </summary>
public sealed class Terminal
{
    public Terminal(TextWriter stdout, TextWriter stderr, IReadOnlyDictionary<string, string?> environment, string workingDirectory)
    {
        Out = stdout;
        Err = stderr;
        Environment = environment;
        WorkingDirectory = Path.GetFullPath(workingDirectory);
    }

    /// <summary>Results (text or the JSON document).</summary>
    public TextWriter Out { get; }

    /// <summary>Logs, progress and error lines.</summary>
    public TextWriter Err { get; }

    /// <summary>The environment variables the runner sees (names are case-sensitive, as on Linux).</summary>
    public IReadOnlyDictionary<string, string?> Environment { get; }

    /// <summary>Where relative paths (SQLite URLs, *_FILE secrets, --source, --output, --migrations-assembly) start.</summary>
    public string WorkingDirectory { get; }

    /// <summary>True when this is the process's own terminal: only then may <c>start</c> replace the process with the application.</summary>
    public bool OwnsProcess { get; init; }

    /// <summary>The variable's value, or null when it is not set.</summary>
    public string? Variable(string name) => Environment.TryGetValue(name, out var value) ? value : null;

    /// <summary>A path as the user gave it, made absolute against <see cref="WorkingDirectory"/>.</summary>
    public string FullPath(string path) => Path.GetFullPath(path, WorkingDirectory);

    /// <summary>The console, the environment and the current directory of this process.</summary>
    public static Terminal FromProcess()
    {
        var environment = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (DictionaryEntry entry in System.Environment.GetEnvironmentVariables())
        {
            environment[(string)entry.Key] = (string?)entry.Value;
        }

        return new Terminal(Console.Out, Console.Error, environment, Directory.GetCurrentDirectory()) { OwnsProcess = true };
    }
}
