using System.Globalization;
using TimeTrack.Migrations.Runner.Output;
using TimeTrack.Migrations.Runner.Settings;

namespace TimeTrack.Migrations.Runner.Commands;

/// <summary>The container's aliases and the rules every setting is read by (numbers, switches).</summary>
public sealed partial class RunnerEnvironment
{
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

    /// <summary>Whether the URL comes from the image's default (MIGRATE_DEFAULT_DATABASE_URL), not from the user.</summary>
    public bool UsesImageDefaultUrl(string? option) =>
        option is null && this["DATABASE_URL"] is null && FromEnvironmentOrFile(DirectUrlVariable) is null && FromEnvironmentOrFile("DATABASE_URL") is null
        && this["DEFAULT_DATABASE_URL"] is not null;

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
