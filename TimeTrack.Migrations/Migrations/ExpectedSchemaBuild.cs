namespace TimeTrack.Migrations.Migrations;

/// <summary>
/// Present in FluentMigrator's services when the runner applies the history only to read the
/// schema it produces (the expected side of adoption and drift checks), inside one transaction
/// that is always rolled back. Steps that normally run outside a transaction (CREATE INDEX
/// CONCURRENTLY) then use their transactional form, which builds the same objects.
/// </summary>
public sealed class ExpectedSchemaBuild;
