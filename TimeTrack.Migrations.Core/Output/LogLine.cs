using System.Text;
using System.Text.Json;

namespace TimeTrack.Migrations.Runner.Output;

public enum LogFormat
{
    Text,
    Json,
}

/// <summary>
/// One log line on stderr as <see cref="Logging"/> writes it: readable text, or a JSON object.
/// Without Microsoft.Extensions.Logging, so that the NativeAOT front (TimeTrack.Migrations.FastStart)
/// writes the same lines as the runner.
/// </summary>
public static class LogLine
{
    /// <summary>The category of the runner's own log lines.</summary>
    public const string Category = "timetrack-migrate";

    /// <param name="level">The level's name as Microsoft.Extensions.Logging spells it ("Information").</param>
    /// <param name="prefix">The text form's prefix for the level ("warning: ", or "").</param>
    /// <param name="message">Already redacted.</param>
    /// <param name="exception">Already redacted; null when there is none.</param>
    public static string Format(LogFormat format, string level, string prefix, string category, string message, string? exception)
    {
        if (format != LogFormat.Json)
        {
            return prefix + message + (exception is null ? "" : Environment.NewLine + exception);
        }

        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("Timestamp", DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture));
            json.WriteString("LogLevel", level);
            json.WriteString("Category", category);
            json.WriteString("Message", message);
            if (exception is not null)
            {
                json.WriteString("Exception", exception);
            }

            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}
