using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace TimeTrack.Migrations.Runner.Output;

public enum LogFormat
{
    Text,
    Json,
}

/// <summary>
/// Logs and progress go to stderr (stdout is for results): one readable line each, or one JSON
/// object each with --log-format json. Every line passes through <see cref="Redactor"/>.
/// </summary>
public static class Logging
{
    public const string Category = "timetrack-migrate";

    public static ILoggerFactory Create(LogFormat format, bool verbose, Redactor redactor) =>
        LoggerFactory.Create(builder =>
        {
            builder.SetMinimumLevel(verbose ? LogLevel.Debug : LogLevel.Information);
            // FluentMigrator logs every statement, and failures we report ourselves: only with --verbose.
            builder.AddFilter("FluentMigrator", verbose ? LogLevel.Debug : LogLevel.None);
            builder.AddConsole(o =>
            {
                o.LogToStandardErrorThreshold = LogLevel.Trace;
                o.FormatterName = format == LogFormat.Json ? ConsoleFormatterNames.Json : PlainFormatter.Name;
            });
            builder.AddConsoleFormatter<PlainFormatter, ConsoleFormatterOptions>();
            builder.Services.AddSingleton(redactor);
            if (format == LogFormat.Json)
            {
                builder.AddJsonConsole(o => o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ");
            }
        });

    /// <summary>"timetrack-migrate: message", "warning: message", "error: message".</summary>
    private sealed class PlainFormatter(IOptionsMonitor<ConsoleFormatterOptions> options, Redactor redactor) : ConsoleFormatter(Name)
    {
        public new const string Name = "timetrack-plain";

        private readonly IOptionsMonitor<ConsoleFormatterOptions> _options = options;

        public override void Write<TState>(in LogEntry<TState> entry, IExternalScopeProvider? scopeProvider, TextWriter writer)
        {
            var message = entry.Formatter(entry.State, entry.Exception);
            var prefix = entry.LogLevel switch
            {
                LogLevel.Warning => "warning: ",
                LogLevel.Error or LogLevel.Critical => "error: ",
                LogLevel.Debug or LogLevel.Trace => "debug: ",
                _ => "",
            };
            writer.WriteLine(redactor.Redact(prefix + message));
            if (entry.Exception is { } e && entry.LogLevel >= LogLevel.Error && _options.CurrentValue.IncludeScopes)
            {
                writer.WriteLine(redactor.Redact(e.ToString()));
            }
        }
    }
}

/// <summary>Removes secrets from any text before it is printed: the last line of defence for "passwords never appear".</summary>
public sealed class Redactor
{
    private readonly List<string> _secrets = [];

    public void Add(string? secret)
    {
        if (!string.IsNullOrEmpty(secret))
        {
            _secrets.Add(secret);
            _secrets.Add(Uri.EscapeDataString(secret));
        }
    }

    public string Redact(string text)
    {
        foreach (var secret in _secrets)
        {
            text = text.Replace(secret, "***", StringComparison.Ordinal);
        }

        return text;
    }
}
