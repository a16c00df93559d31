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

    /// <param name="level">The level's name as Microsoft.Extensions.Logging spells it ("Information"); the text form starts with its <see cref="Prefix"/>.</param>
    /// <param name="message">Already redacted.</param>
    /// <param name="exception">Already redacted; null when there is none.</param>
    /// <param name="eventName">A structured event (the step heartbeat): JSON gives it as "Event", with <paramref name="fields"/> beside the message.</param>
    /// <param name="fields">The event's data, already redacted: text, numbers, null, lists, or nested field lists (objects).</param>
    public static string Format(LogFormat format, string level, string category, string message, string? exception,
        string? eventName = null, IReadOnlyList<KeyValuePair<string, object?>>? fields = null)
    {
        if (format != LogFormat.Json)
        {
            return Prefix(level) + Printable(message) + (exception is null ? "" : Environment.NewLine + Printable(exception));
        }

        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("Timestamp", DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture));
            json.WriteString("LogLevel", level);
            json.WriteString("Category", category);
            json.WriteString("Message", message);
            if (eventName is not null)
            {
                json.WriteString("Event", eventName);
                foreach (var (name, value) in fields ?? [])
                {
                    json.WritePropertyName(name);
                    WriteValue(json, value);
                }
            }

            if (exception is not null)
            {
                json.WriteString("Exception", exception);
            }

            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>
    /// Text made safe for a terminal line: what the runner prints holds text read from the
    /// database (version-table rows, server messages, application names, queries), which must not
    /// forge lines or colours. Control characters (C0 but tab and line feed, DEL, C1) and the
    /// bidirectional overrides are shown escaped (\u001B); a line break is kept, but the line after
    /// it is indented, so that it can never pass for a line of its own ("warning: …").
    /// JSON output needs none of this: its serialiser escapes them.
    /// </summary>
    /// <param name="oneLine">Escape line breaks too: a field of a one-line listing (status's rows).</param>
    /// <summary>The text form's prefix for a level: "warning: ", "error: ", "debug: ", or none for Information.</summary>
    public static string Prefix(string level) => level switch
    {
        "Warning" => "warning: ",
        "Error" or "Critical" => "error: ",
        "Debug" or "Trace" => "debug: ",
        _ => "",
    };

    public static string Printable(string text, bool oneLine = false)
    {
        if (!text.Any(NeedsCare))
        {
            return text;
        }

        var result = new StringBuilder(text.Length + 16);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '\r' && i + 1 < text.Length && text[i + 1] == '\n')
            {
                continue; // CRLF is a line break
            }

            if (c == '\n' && !oneLine)
            {
                result.Append('\n');
                if (i + 1 < text.Length && text[i + 1] is not (' ' or '\t' or '\n' or '\r'))
                {
                    result.Append("  ");
                }
            }
            else if (c != '\t' && NeedsCare(c))
            {
                result.Append("\\u").Append(((int)c).ToString("X4", System.Globalization.CultureInfo.InvariantCulture));
            }
            else
            {
                result.Append(c);
            }
        }

        return result.ToString();
    }

    private static bool NeedsCare(char c) =>
        char.IsControl(c) && c != '\t' // C0, DEL, C1 (line feed too: the line after it is checked)
        || c is >= '\u202A' and <= '\u202E' or >= '\u2066' and <= '\u2069'; // bidi embeddings, overrides, isolates

    private static void WriteValue(Utf8JsonWriter json, object? value)
    {
        switch (value)
        {
            case null:
                json.WriteNullValue();
                break;
            case string text:
                json.WriteStringValue(text);
                break;
            case int or long:
                json.WriteNumberValue(Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture));
                break;
            case double number:
                json.WriteNumberValue(number);
                break;
            case bool flag:
                json.WriteBooleanValue(flag);
                break;
            case IEnumerable<KeyValuePair<string, object?>> nested:
                json.WriteStartObject();
                foreach (var (name, inner) in nested)
                {
                    json.WritePropertyName(name);
                    WriteValue(json, inner);
                }

                json.WriteEndObject();
                break;
            case System.Collections.IEnumerable list:
                json.WriteStartArray();
                foreach (var item in list)
                {
                    WriteValue(json, item);
                }

                json.WriteEndArray();
                break;
            default:
                json.WriteStringValue(Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture));
                break;
        }
    }
}
