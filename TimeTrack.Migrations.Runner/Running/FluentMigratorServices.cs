using System.Reflection;
using FluentMigrator.Runner;
using FluentMigrator.Runner.Conventions;
using FluentMigrator.Runner.Initialization;
using FluentMigrator.Runner.Logging;
using FluentMigrator.Runner.Processors;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using TimeTrack.Migrations.Migrations;
using TimeTrack.Migrations.Runner.Databases;

namespace TimeTrack.Migrations.Runner.Running;

/// <summary>
/// Builds FluentMigrator's runner over a migrations assembly for one database. Each call gives a
/// fresh container, so FluentMigrator's version snapshot is taken after our lock is held, never
/// before (its issue #2220: a snapshot taken before another runner finished is stale).
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
        /// Build an expected schema in this (scratch) schema: FluentMigrator puts every expression
        /// without a schema there instead of in "public", and migrations learn that everything runs
        /// in one transaction (<see cref="ExpectedSchemaBuild"/>). Raw SQL follows the search_path,
        /// which the caller sets.
        /// </summary>
        public string? ExpectedSchemaIn { get; init; }
    }

    public static ServiceProvider Create(DatabaseTarget target, Assembly migrations, Options? options = null)
    {
        options ??= new Options();
        if (target.Kind == DatabaseKind.Sqlite)
        {
            // SQLite changes a table by rebuilding it, which needs foreign key enforcement off, and
            // that can only be switched outside a transaction: so migrations run with it off (as
            // Django's and Alembic's SQLite support do), and a rebuild checks every key before commit.
            target = target with
            {
                ConnectionString = new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(target.ConnectionString) { ForeignKeys = false }.ConnectionString,
            };
        }

        var services = new ServiceCollection()
            .AddFluentMigratorCore()
            .ConfigureRunner(runner =>
            {
                _ = target.Kind switch
                {
                    DatabaseKind.Postgres => runner.AddPostgres15_0(),
                    _ => runner.AddSQLite(),
                };
                runner.WithGlobalConnectionString(target.ConnectionString)
                    .ScanIn(migrations).For.All();
                runner.AsGlobalPreview(options.Preview);
            })
            .Configure<RunnerOptions>(o => o.AllowBreakingChange = true)
            .Configure<ProcessorOptions>(o =>
            {
                o.PreviewOnly = options.Preview;
                o.Timeout = TimeSpan.FromHours(1); // long data steps must not die at the 30 s default
            })
            .AddLogging(logging => logging.ClearProviders().SetMinimumLevel(LogLevel.Information));

        if (options.Logs is not null)
        {
            // The caller's factory (not disposed by this container): one log stream, one format.
            services.AddSingleton(options.Logs);
        }

        if (options.ExpectedSchemaIn is { } schema)
        {
            // Registered after AddFluentMigratorCore's TryAdd: the last registration wins.
            services.AddSingleton<IConventionSet>(new DefaultConventionSet(defaultSchemaName: schema, workingDirectory: null));
            services.AddSingleton(new ExpectedSchemaBuild());
        }

        if (options.SqlOutput is not null)
        {
            services.AddSingleton<ILoggerProvider>(new SqlScriptFluentMigratorLoggerProvider(
                options.SqlOutput,
                new SqlScriptFluentMigratorLoggerOptions { ShowSql = true, ShowElapsedTime = false }));
        }

        return services.BuildServiceProvider(validateScopes: false);
    }
}
