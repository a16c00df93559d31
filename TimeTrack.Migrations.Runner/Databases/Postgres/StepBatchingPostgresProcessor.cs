using System.Data;
using FluentMigrator.Expressions;
using FluentMigrator.Runner;
using FluentMigrator.Runner.Generators.Postgres;
using FluentMigrator.Runner.Initialization;
using FluentMigrator.Runner.Processors;
using FluentMigrator.Runner.Processors.Postgres;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using TimeTrack.Migrations.Runner.Running;

namespace TimeTrack.Migrations.Runner.Databases.Postgres;

/// <summary>
/// FluentMigrator's PostgreSQL 15 processor that, while a step holds its statements
/// (<see cref="IStepBatching"/>), logs each one as FluentMigrator does and sends them together in
/// one command: one round trip for a step instead of one per statement. Anything that reads or
/// hands the connection to code (an existence check, Execute.WithConnection) first sends what is
/// held, so it sees the statements before it as it always did.
/// </summary>
public sealed class StepBatchingPostgresProcessor(
    PostgresDbFactory factory,
    Postgres15_0Generator generator,
    ILogger<Postgres15_0Processor> logger,
    IOptionsSnapshot<ProcessorOptions> options,
    IConnectionStringAccessor connectionStringAccessor,
    PostgresOptions postgresOptions)
    : Postgres15_0Processor(factory, generator, logger, options, connectionStringAccessor, postgresOptions), IStepBatching
{
    private readonly StepBatch _batch = new();

    public void Hold() => _batch.Hold();

    public void Send()
    {
        if (_batch.Take() is { } text)
        {
            EnsureConnectionIsOpen();
            using var command = CreateCommand(text);
            command.ExecuteNonQuery();
        }
    }

    public void Release()
    {
        Send();
        _batch.Release();
    }

    public void Discard() => _batch.Discard();

    protected override void Process(string sql)
    {
        if (!_batch.Holding || Options.PreviewOnly || string.IsNullOrEmpty(sql))
        {
            base.Process(sql);
            return;
        }

        Logger.LogSql(sql);
        _batch.Add(sql);
    }

    public override void Process(PerformDBOperationExpression expression)
    {
        Send();
        base.Process(expression);
    }

    public override DataSet Read(string template, params object[] args)
    {
        Send();
        return base.Read(template, args);
    }

    public override bool Exists(string template, params object[] args)
    {
        Send();
        return base.Exists(template, args);
    }
}
