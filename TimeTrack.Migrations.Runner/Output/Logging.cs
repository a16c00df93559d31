using Microsoft.Extensions.Logging;

namespace TimeTrack.Migrations.Runner.Output;

/// <summary>
/// Logs and progress go to stderr (stdout is for results): one readable line each, or one JSON
/// object each with --log-format json. Every line passes through <see cref="Redactor"/>.
/// </summary>
/// <remarks>
/// A small synchronous provider rather than Microsoft.Extensions.Logging.Console: the console
/// logger's options, configuration binding and background queue cost a quarter of the start-up
/// time of a no-op `up` (the container-restart path), and its queue can reorder stderr against
/// stdout. Microsoft.Extensions.Logging's abstractions and filtering are kept.
/// </remarks>
public static class Logging
{
    public const string Category = LogLine.Category;

    /// <param name="stderr">The invocation's stderr (the process's, or a test's writer).</param>
    public static ILoggerFactory Create(LogFormat format, bool verbose, Redactor redactor, TextWriter stderr)
    {
        var filters = new LoggerFilterOptions { MinLevel = verbose ? LogLevel.Debug : LogLevel.Information };
        // FluentMigrator logs every statement, and failures we report ourselves: only with --verbose.
        filters.Rules.Add(new LoggerFilterRule(null, "FluentMigrator", verbose ? LogLevel.Debug : LogLevel.None, null));
        return new LoggerFactory([new StderrLoggerProvider(format, redactor, stderr)], filters);
    }

    private sealed class StderrLoggerProvider(LogFormat format, Redactor redactor, TextWriter stderr) : ILoggerProvider
    {
        private readonly object _gate = new();

        private IReadOnlyList<KeyValuePair<string, object?>> Redacted(IReadOnlyList<KeyValuePair<string, object?>> fields) =>
            fields.Select(f => KeyValuePair.Create<string, object?>(f.Key, f.Value switch
            {
                string text => redactor.Redact(text),
                IReadOnlyList<KeyValuePair<string, object?>> nested => Redacted(nested),
                IEnumerable<IReadOnlyList<KeyValuePair<string, object?>>> objects => objects.Select(Redacted).ToList(),
                var other => other,
            })).ToList();

        public ILogger CreateLogger(string categoryName) => new StderrLogger(this, categoryName);

        public void Dispose() => stderr.Flush();

        internal void Write(string category, LogLevel level, string message, Exception? exception, StructuredEvent? structured = null)
        {
            message = redactor.Redact(message);
            var line = LogLine.Format(format, level.ToString(), category, message,
                exception is null ? null : redactor.Redact(exception.ToString()),
                structured?.Name, structured is null ? null : Redacted(structured.Fields));
            lock (_gate)
            {
                stderr.WriteLine(line);
            }
        }
    }

    private sealed class StderrLogger(StderrLoggerProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                provider.Write(category, logLevel, formatter(state, exception), exception, state as StructuredEvent);
            }
        }
    }
}

/// <summary>
/// A log entry with data (the step heartbeat): the text form prints its message, the JSON form
/// adds "Event" and the fields. Logged as the state of <see cref="ILogger.Log{TState}"/>.
/// </summary>
public sealed record StructuredEvent(string Name, string Message, IReadOnlyList<KeyValuePair<string, object?>> Fields)
{
    public static void Log(ILogger log, LogLevel level, StructuredEvent entry) =>
        log.Log(level, new EventId(0, entry.Name), entry, null, (e, _) => e.Message);
}
