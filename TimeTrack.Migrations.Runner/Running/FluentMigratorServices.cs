using System.Reflection;
using FluentMigrator;
using FluentMigrator.Runner;
using FluentMigrator.Runner.Conventions;
using FluentMigrator.Runner.Initialization;
using FluentMigrator.Runner.Logging;
using FluentMigrator.Runner.Processors;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using TimeTrack.Migrations.Migrations;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Runner.Databases.Postgres;

namespace TimeTrack.Migrations.Runner.Running;

/// <summary>
/// FluentMigrator's services for one database: its processor (the step connection, SQL
/// generation), conventions and expression validation. The runner drives them itself
/// (<see cref="StepExecutor"/>); FluentMigrator's MigrationRunner and version loader are never
/// built, so nothing of FluentMigrator reads or writes the version table. Each call gives a fresh
/// container and connection, opened after the migration lock is held.
/// </summary>
public static class FluentMigratorServices
{
    public sealed record Options
    {
        /// <summary>Log the SQL that would run instead of running it.</summary>
        public bool Preview { get; init; }

        /// <summary>Where the SQL goes (preview and real runs alike); null: nowhere.</summary>
        public TextWriter? SqlOutput { get; init; }

        /// <summary>Where FluentMigrator's own log goes (filtered there); null: nowhere but <see cref="SqlOutput"/>.</summary>
        public ILoggerFactory? Logs { get; init; }

        /// <summary>
        /// Building an expected schema: FluentMigrator puts every expression without a schema in
        /// this one (null: the database's default), and migrations learn that everything runs in
        /// one transaction (<see cref="ExpectedSchemaBuild"/>).
        /// </summary>
        public bool ExpectedSchemaBuild { get; init; }

        public string? DefaultSchema { get; init; }

        /// <summary>The command timeout of the steps' statements (null: an hour); <see cref="Database.StepCommandTimeout"/>.</summary>
        public TimeSpan? CommandTimeout { get; init; }

        /// <summary>Collects every SQL statement FluentMigrator's processor logs, one entry each (rendering).</summary>
        public ICollection<string>? SqlCapture { get; init; }

        /// <summary>
        /// A processor that can send a step's statements in one round trip (<see cref="IStepBatching"/>),
        /// where the database has one (PostgreSQL; SQLite runs in the process, with no round trips to save).
        /// </summary>
        public bool BatchSteps { get; init; }
    }

    public static ServiceProvider Create(DatabaseProvider provider, string connectionString, Assembly migrations, Options? options = null)
    {
        options ??= new Options();
        var services = new ServiceCollection()
            .AddFluentMigratorCore()
            .ConfigureRunner(runner =>
            {
                provider.AddFluentMigrator(runner);
                runner.WithGlobalConnectionString(connectionString)
                    .ScanIn(migrations).For.All();
                runner.AsGlobalPreview(options.Preview);
            })
            .Configure<RunnerOptions>(o => o.AllowBreakingChange = true)
            .Configure<ProcessorOptions>(o =>
            {
                o.PreviewOnly = options.Preview;
                o.Timeout = options.CommandTimeout ?? TimeSpan.FromHours(1); // long data steps must not die at the 30 s default
            })
            .AddLogging(logging => logging.ClearProviders().SetMinimumLevel(LogLevel.Information));

        if (options.BatchSteps && provider.Kind == DatabaseKind.Postgres)
        {
            // Registered after AddPostgres15_0's: the last registration is the one resolved.
            services.AddScoped<IMigrationProcessor>(sp => ActivatorUtilities.CreateInstance<StepBatchingPostgresProcessor>(sp));
        }

        if (options.Logs is not null)
        {
            // The caller's factory (not disposed by this container): one log stream, one format.
            services.AddSingleton(options.Logs);
        }

        if (options.DefaultSchema is { } schema)
        {
            // Registered after AddFluentMigratorCore's TryAdd: the last registration wins.
            services.AddSingleton<IConventionSet>(new DefaultConventionSet(defaultSchemaName: schema, workingDirectory: null));
        }

        if (options.ExpectedSchemaBuild)
        {
            services.AddSingleton(new ExpectedSchemaBuild());
        }

        if (options.SqlOutput is not null)
        {
            services.AddSingleton<ILoggerProvider>(new SqlScriptFluentMigratorLoggerProvider(
                options.SqlOutput,
                new SqlScriptFluentMigratorLoggerOptions { ShowSql = true, ShowElapsedTime = false }));
        }

        if (options.SqlCapture is not null)
        {
            services.AddSingleton<ILoggerProvider>(new SqlCaptureProvider(options.SqlCapture));
        }

        return services.BuildServiceProvider(validateScopes: false);
    }

    /// <summary>Keeps the processor's SQL log entries (RunnerEventIds.Sql), exactly as rendered.</summary>
    private sealed class SqlCaptureProvider(ICollection<string> statements) : ILoggerProvider, ILogger
    {
        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (eventId.Id == RunnerEventIds.Sql.Id)
            {
                statements.Add(formatter(state, exception));
            }
        }

        public void Dispose()
        {
        }
    }
}
