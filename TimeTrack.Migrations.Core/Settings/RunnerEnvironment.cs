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

        var path = Terminal.FullPath(file);
        var content = ReadSecretFile(name, file, path).TrimEnd('\r', '\n');
        return content.Length > 0 ? content : throw UserError.Invalid($"{name}_FILE: '{file}' is empty");
    }

    /// <summary>A secret file is small: more than this is the wrong file (or /dev/zero).</summary>
    public const int MaxSecretFileBytes = 64 * 1024;

    /// <summary>
    /// The text of a *_FILE secret: a regular file of at most <see cref="MaxSecretFileBytes"/>. A
    /// named pipe, device, directory or socket is refused before it is opened (a pipe blocks the
    /// open until something writes, a device may never end). Errors name the file, never its content.
    /// </summary>
    private static string ReadSecretFile(string name, string file, string path)
    {
        if (FileKind.Of(path) is { } kind && kind != FileKind.Regular)
        {
            throw UserError.Invalid($"{name}_FILE: '{file}' {FileKind.Describe(kind)}, not a file holding the secret");
        }

        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            var buffer = new byte[MaxSecretFileBytes + 1];
            var read = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
            if (read > MaxSecretFileBytes)
            {
                throw UserError.Invalid($"{name}_FILE: '{file}' is larger than {MaxSecretFileBytes / 1024} KiB: is it the right file?");
            }

            try
            {
                return new System.Text.UTF8Encoding(false, throwOnInvalidBytes: true).GetString(buffer, 0, read).TrimStart('\uFEFF'); // a BOM, as File.ReadAllText dropped it
            }
            catch (System.Text.DecoderFallbackException)
            {
                throw UserError.Invalid($"{name}_FILE: '{file}' is not UTF-8 text: is it the right file?");
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            var why = e switch
            {
                FileNotFoundException or DirectoryNotFoundException => "it does not exist (is the secret mounted?)",
                UnauthorizedAccessException when System.IO.Directory.Exists(path) => "it is a directory, not a file holding the secret",
                UnauthorizedAccessException => "permission denied (is it readable by this user?)",
                _ => e.Message,
            };
            throw UserError.Invalid($"{name}_FILE: cannot read '{file}': {why}");
        }
    }

    /// <summary>
    /// The database URL: the option, TIMETRACK_DATABASE_URL, DATABASE_DIRECT_URL (or _FILE),
    /// DATABASE_URL (or _FILE), else the image's MIGRATE_DEFAULT_DATABASE_URL (null: none given,
    /// the runner's embedded default). DATABASE_DIRECT_URL is Prisma's directUrl: the application
    /// keeps DATABASE_URL through a transaction-mode pooler, the runner (lock, steps, backups, the
    /// front) uses the direct one for everything.
    /// </summary>
    public string? DatabaseUrl(string? option) =>
        option is not null && string.IsNullOrWhiteSpace(option)
            ? throw UserError.Invalid("--database-url is empty: give a URL, or leave the option out (DATABASE_URL or the default is used then)")
            : option ?? this["DATABASE_URL"] ?? FromEnvironmentOrFile(DirectUrlVariable) ?? FromEnvironmentOrFile("DATABASE_URL") ?? this["DEFAULT_DATABASE_URL"];

    /// <summary>The URL the runner prefers over DATABASE_URL: a direct (or session-pooled) one.</summary>
    public const string DirectUrlVariable = "DATABASE_DIRECT_URL";

    /// <summary>
    /// The PostgreSQL role to SET ROLE to: the option, else TIMETRACK_DATABASE_ROLE (null: stay the
    /// login). Not a URL parameter: the application shares DATABASE_URL, and its driver would refuse one.
    /// </summary>
    public string? DatabaseRole(string? option)
    {
        var role = option ?? this[OptionDefinitions.Role.Setting!];
        if (role is null)
        {
            return null;
        }

        // PostgreSQL keeps names to 63 bytes (NAMEDATALEN); a NUL or line break is a wrong value, not a name.
        return string.IsNullOrWhiteSpace(role) ? throw UserError.Invalid($"{OptionDefinitions.Role.Name} is empty: give a role name, or leave it out")
            : role.Any(char.IsControl) ? throw UserError.Invalid($"{OptionDefinitions.Role.Name}: the role name contains a control character")
            : System.Text.Encoding.UTF8.GetByteCount(role) > 63 ? throw UserError.Invalid($"{OptionDefinitions.Role.Name}: the role name is longer than PostgreSQL's 63-byte limit for names")
            : role;
    }

    /// <summary>The password for a URL without one: TIMETRACK_DATABASE_PASSWORD, DATABASE_PASSWORD or DATABASE_PASSWORD_FILE.</summary>
    public string? FallbackPassword() => this["DATABASE_PASSWORD"] ?? FromEnvironmentOrFile("DATABASE_PASSWORD");

    /// <summary>The log format: the option, else TIMETRACK_LOG_FORMAT (text when unset; anything but text or json is refused).</summary>
    public LogFormat LogFormat(LogFormat? option) =>
        option ?? this["LOG_FORMAT"]?.Trim().ToLowerInvariant() switch
        {
            null or "" or "text" => Output.LogFormat.Text,
            "json" => Output.LogFormat.Json,
            _ => throw UserError.Invalid("TIMETRACK_LOG_FORMAT from the environment is not text or json"),
        };
}
