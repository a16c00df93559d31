using TimeTrack.Migrations.Runner.Output;

namespace TimeTrack.Migrations.Runner.Commands;

/// <summary>
/// What timetrack-migrate reads from its environment: the TIMETRACK_* variables (the prefix
/// dropped, names case-insensitive, "__" as ":", as Microsoft.Extensions.Configuration's
/// AddEnvironmentVariables("TIMETRACK_") had them), NAME or NAME_FILE secrets, and the checks of
/// numeric settings. One place for <see cref="GlobalOptions"/> and the NativeAOT front
/// (TimeTrack.Migrations.FastStart), which must read the environment exactly as the runner does.
/// </summary>
public sealed class RunnerEnvironment
{
    private const string Prefix = "TIMETRACK_";

    private readonly Dictionary<string, string?> _settings = new(StringComparer.OrdinalIgnoreCase);

    public RunnerEnvironment(Terminal terminal)
    {
        Terminal = terminal;
        foreach (var (key, value) in terminal.Environment)
        {
            if (key.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase))
            {
                // The last of two names that differ only in case wins, as it did in the configuration.
                _settings[key[Prefix.Length..].Replace("__", ":", StringComparison.Ordinal)] = value;
            }
        }
    }

    public Terminal Terminal { get; }

    /// <summary>TIMETRACK_<paramref name="key"/> (any case), or null.</summary>
    public string? this[string key] => _settings.GetValueOrDefault(key);

    /// <summary>
    /// NAME from the environment, or read from the file NAME_FILE names (a trailing newline
    /// dropped; a relative path from the working directory); both set is ambiguous and refused,
    /// as the postgres image does.
    /// </summary>
    public string? FromEnvironmentOrFile(string name)
    {
        var value = Terminal.Variable(name);
        var file = Terminal.Variable(name + "_FILE");
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

    /// <summary>The database URL: TIMETRACK_DATABASE_URL, DATABASE_URL or DATABASE_URL_FILE (null: none given).</summary>
    public string? DatabaseUrl(string? option) => option ?? this["DATABASE_URL"] ?? FromEnvironmentOrFile("DATABASE_URL");

    /// <summary>The password for a URL without one: TIMETRACK_DATABASE_PASSWORD, DATABASE_PASSWORD or DATABASE_PASSWORD_FILE.</summary>
    public string? FallbackPassword() => this["DATABASE_PASSWORD"] ?? FromEnvironmentOrFile("DATABASE_PASSWORD");

    /// <summary>The log format: the option, else TIMETRACK_LOG_FORMAT (text when unset or not a format).</summary>
    public LogFormat LogFormat(LogFormat? option) =>
        option ?? (Enum.TryParse<LogFormat>(this["LOG_FORMAT"], ignoreCase: true, out var f) ? f : Output.LogFormat.Text);

    /// <summary>A count of at most 100 (more retries than that is a mistake, not a policy).</summary>
    public int Count(int? option, string key, string name, int fallback)
    {
        var environment = this[key];
        var value = option ?? (environment is null ? fallback : int.TryParse(environment, out var e) ? e : throw UserError.Invalid($"{name}: '{environment}' from the environment is not a whole number"));
        return value is >= 0 and <= 100 ? value : throw UserError.Invalid($"{name} must be from 0 to 100, not {value}");
    }

    public int Seconds(int? option, string key, string name, int fallback)
    {
        var environment = this[key];
        var value = option ?? (environment is null ? fallback : int.TryParse(environment, out var e) ? e : throw UserError.Invalid($"{name}: '{environment}' from the environment is not a whole number of seconds"));
        return value >= 0 ? value : throw UserError.Invalid($"{name} must be 0 or more seconds, not {value}");
    }
}
