using System.Globalization;
using TimeTrack.Migrations.Runner.Output;
using TimeTrack.Migrations.Runner.Settings;

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
public sealed class RunnerEnvironment
{
    private const string Prefix = "TIMETRACK_";

    /// <summary>The container's names (deploy/, the image) for settings the runner has.</summary>
    public static readonly IReadOnlyDictionary<string, string> Aliases = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        ["WAIT"] = "MIGRATE_WAIT_SECONDS",
        ["BACKUP_DIR"] = "MIGRATE_BACKUP_DIR",
        ["BACKUP_KEEP"] = "MIGRATE_BACKUP_KEEP",
        ["BACKUP_OPTIONAL"] = "MIGRATE_BACKUP_OPTIONAL",
        ["TARGET_VERSION"] = "MIGRATE_TARGET_VERSION",
        ["ALLOW_DOWNGRADE"] = "MIGRATE_ALLOW_DOWNGRADE",
        ["ON_START"] = "MIGRATE_ON_START",
        ["DEFAULT_DATABASE_URL"] = "MIGRATE_DEFAULT_DATABASE_URL",
    };

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

    /// <summary>Whether the URL comes from the image's default (MIGRATE_DEFAULT_DATABASE_URL), not from the user.</summary>
    public bool UsesImageDefaultUrl(string? option) =>
        option is null && this["DATABASE_URL"] is null && FromEnvironmentOrFile("DATABASE_URL") is null && this["DEFAULT_DATABASE_URL"] is not null;

    /// <summary>The password for a URL without one: TIMETRACK_DATABASE_PASSWORD, DATABASE_PASSWORD or DATABASE_PASSWORD_FILE.</summary>
    public string? FallbackPassword() => this["DATABASE_PASSWORD"] ?? FromEnvironmentOrFile("DATABASE_PASSWORD");

    /// <summary>The log format: the option, else TIMETRACK_LOG_FORMAT (text when unset or not a format).</summary>
    public LogFormat LogFormat(LogFormat? option) =>
        option ?? (Enum.TryParse<LogFormat>(this["LOG_FORMAT"], ignoreCase: true, out var f) ? f : Output.LogFormat.Text);

    /// <summary>A number option's value: the option, else its setting, else its default; checked as its kind says.</summary>
    public int Number(OptionDefinition option, int? given, int? fallback = null)
    {
        var text = option.Setting is null ? null : this[option.Setting];
        var value = given ?? (text is null ? fallback ?? option.Default : Whole(text, option));
        return option.Value == OptionValue.Count
            ? value is >= 0 and <= 100 ? value : throw UserError.Invalid($"{option.Name} must be from 0 to 100, not {value}") // more retries than that is a mistake, not a policy
            : value >= 0 ? value : throw UserError.Invalid($"{option.Name} must be 0 or more seconds, not {value}");
    }

    /// <summary>A whole number from a setting (the number rule), or null when unset.</summary>
    public int? Whole(OptionDefinition option) => option.Setting is { } key && this[key] is { } text ? Whole(text, option) : null;

    private static int Whole(string text, OptionDefinition option) =>
        int.TryParse(text.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n)
            ? n
            : throw UserError.Invalid($"{option.Name}: '{text}' from the environment is not a whole number{(option.Value == OptionValue.Seconds ? " of seconds" : "")}");

    /// <summary>A switch: the option when given, else its setting (true or false, any case), else false.</summary>
    public bool Switch(OptionDefinition option, bool given) => given || Flag(option.Setting, option.Name) == true;

    /// <summary>A true/false setting (the switch rule); null when unset. <paramref name="name"/> is what the error names.</summary>
    public bool? Flag(string? key, string name)
    {
        if (key is null)
        {
            return null;
        }

        var (variable, text) = Lookup(key);
        return text is null ? null
            : bool.TryParse(text.Trim(), out var b) ? b
            : throw UserError.Invalid($"{variable} must be true or false, not '{text}' ({name})");
    }
}
