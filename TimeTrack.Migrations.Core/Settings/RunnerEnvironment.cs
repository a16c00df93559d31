using TimeTrack.Migrations.Runner.Output;

namespace TimeTrack.Migrations.Runner.Commands;

/// <summary>
/// What timetrack-migrate reads from its environment, with one rule for every name: names are
/// case-insensitive (the exact spelling wins over another case); an empty value is unset; a
/// number is whole (an optional sign, nothing else); a switch is true or false. The settings are
/// TIMETRACK_* (the prefix dropped, "__" as ":", as Microsoft.Extensions.Configuration had them),
/// the container's MIGRATE_* names as aliases of some (<see cref="Aliases"/>: the TIMETRACK_ name
/// wins), and NAME or NAME_FILE secrets. One place for the runner and the NativeAOT front
/// (TimeTrack.Migrations.FastStart), which must read the environment exactly as the runner does.
/// </summary>
public sealed partial class RunnerEnvironment
{
    private const string Prefix = "TIMETRACK_";

    private readonly Dictionary<string, string> _variables = new(StringComparer.OrdinalIgnoreCase);

    public RunnerEnvironment(Terminal terminal)
    {
        Terminal = terminal;
        foreach (var (key, value) in terminal.Environment)
        {
            if (!string.IsNullOrEmpty(value))
            {
                // The last of two names that differ only in case wins, as it did in the configuration.
                _variables[key.Replace("__", ":", StringComparison.Ordinal)] = value;
            }
        }
    }

    public Terminal Terminal { get; }

    /// <summary>TIMETRACK_<paramref name="key"/>, else its MIGRATE_* alias; null when neither is set (or empty).</summary>
    public string? this[string key] => Lookup(key).Value;

    /// <summary>The setting's value and the variable it came from (what an error names).</summary>
    private (string Name, string? Value) Lookup(string key) =>
        Variable(Prefix + key) is { } value ? (Prefix + key, value)
        : Aliases.TryGetValue(key, out var alias) ? (alias, Variable(alias))
        : (Prefix + key, null);

    /// <summary>The variable under the case rule (the exact spelling first), or null when unset or empty.</summary>
    public string? Variable(string name) =>
        Terminal.Variable(name) is { Length: > 0 } exact ? exact : _variables.GetValueOrDefault(name.Replace("__", ":", StringComparison.Ordinal));

    /// <summary>
    /// NAME from the environment, or read from the file NAME_FILE names (a trailing newline
    /// dropped; a relative path from the working directory); both set is ambiguous and refused,
    /// as the postgres image does.
    /// </summary>
    public string? FromEnvironmentOrFile(string name)
    {
        var value = Variable(name);
        var file = Variable(name + "_FILE");
        if (string.IsNullOrEmpty(file))
        {
            return value;
        }

        if (!string.IsNullOrEmpty(value))
        {
            throw UserError.Invalid($"both {name} and {name}_FILE are set; set only one");
        }

        string content;
        try
        {
            content = File.ReadAllText(Terminal.FullPath(file));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            var why = e switch
            {
                FileNotFoundException or DirectoryNotFoundException => "it does not exist (is the secret mounted?)",
                UnauthorizedAccessException => "permission denied (is it readable by this user?)",
                _ => e.Message,
            };
            throw UserError.Invalid($"{name}_FILE: cannot read '{file}': {why}");
        }

        content = content.TrimEnd('\r', '\n');
        return content.Length > 0 ? content : throw UserError.Invalid($"{name}_FILE: '{file}' is empty");
    }

    /// <summary>
    /// The database URL: TIMETRACK_DATABASE_URL, DATABASE_URL or DATABASE_URL_FILE, else the image's
    /// MIGRATE_DEFAULT_DATABASE_URL (null: none given, the runner's embedded default).
    /// </summary>
    public string? DatabaseUrl(string? option) => option ?? this["DATABASE_URL"] ?? FromEnvironmentOrFile("DATABASE_URL") ?? this["DEFAULT_DATABASE_URL"];

    /// <summary>The password for a URL without one: TIMETRACK_DATABASE_PASSWORD, DATABASE_PASSWORD or DATABASE_PASSWORD_FILE.</summary>
    public string? FallbackPassword() => this["DATABASE_PASSWORD"] ?? FromEnvironmentOrFile("DATABASE_PASSWORD");

    /// <summary>The log format: the option, else TIMETRACK_LOG_FORMAT (text when unset or not a format).</summary>
    public LogFormat LogFormat(LogFormat? option) =>
        option ?? (Enum.TryParse<LogFormat>(this["LOG_FORMAT"], ignoreCase: true, out var f) ? f : Output.LogFormat.Text);
}
