namespace TimeTrack.Migrations.Runner.Databases;

/// <summary>What <c>stamp --repair</c> does to a damaged version table, and what it found.</summary>
/// <param name="Statements">Run in one transaction; empty when the table is not damaged.</param>
/// <param name="Done">One line per repair, for the log and the result.</param>
/// <param name="Current">The newest version recorded (the backup before the repair is named after it).</param>
public sealed record VersionTableRepair(IReadOnlyList<string> Statements, IReadOnlyList<string> Done, long Current);

public sealed partial class VersionTable
{
    /// <summary>
    /// The repair of the damage <see cref="VersionTableDamage"/> refuses: FluentMigrator's dropped
    /// columns added back (empty), rows without a version deleted, each repeated version's rows but
    /// the earliest deleted, and the unique index added back. Reads only what the repair needs, with
    /// none of the checks of <see cref="ReadWithLayoutAsync"/> (they refuse exactly this table).
    /// A table without a "Version" column is refused: nothing says what it held.
    /// </summary>
    public async Task<VersionTableRepair> PlanRepairAsync(Database database, CancellationToken cancel)
    {
        if (!await ExistsAsync(database, cancel))
        {
            return new([], [], 0);
        }

        var present = await ColumnNamesAsync(database, cancel);
        var missing = VersionTableLayout.FluentMigratorColumns.Where(c => !present.Contains(c.Name)).ToList();
        if (missing.Any(c => c.Name == "Version"))
        {
            VersionTableDamage.RefuseMissingColumns(["Version"]);
        }

        var statements = missing.Select(c => $"ALTER TABLE {Table} ADD COLUMN {Definition(c)};").ToList();
        var done = missing.Select(c => $"added the missing column \"{c.Name}\" (empty for the rows there were)").ToList();

        var nulls = await CountAsync(database, $"SELECT count(*) FROM {Table} WHERE \"Version\" IS NULL", cancel);
        if (nulls > 0)
        {
            statements.Add($"DELETE FROM {Table} WHERE \"Version\" IS NULL;");
            done.Add($"deleted {nulls} row(s) without a version");
        }

        // The earliest row of a version is the one that recorded it; a row without a date counts as the latest.
        var id = provider.RowIdentity;
        var repeated = await CountAsync(database, $"SELECT count(*) - count(DISTINCT \"Version\") FROM {Table} WHERE \"Version\" IS NOT NULL", cancel);
        if (repeated > 0)
        {
            var order = present.Contains("AppliedOn") ? $"\"AppliedOn\" IS NULL, \"AppliedOn\", {id}" : id;
            statements.Add($"DELETE FROM {Table} WHERE {id} IN (SELECT {id} FROM (SELECT {id}, row_number() OVER (PARTITION BY \"Version\" ORDER BY {order}) AS n " +
                $"FROM {Table} WHERE \"Version\" IS NOT NULL) AS repeated WHERE n > 1);");
            done.Add($"deleted {repeated} repeated row(s), keeping the earliest row of each version");
        }

        var table = (await database.ReadSchemaAsync(cancel)).Table(Name);
        var unique = table is not null && (table.Indexes.Any(i => i.Unique && i.Keys.Count == 1 && i.Keys[0].Text.Trim('"') == "Version")
            || table.UniqueConstraints.Any(u => u.Columns.SequenceEqual(["Version"]))
            || table.PrimaryKey?.Columns.SequenceEqual(["Version"]) == true);
        if (!unique)
        {
            statements.Add(CreateStatements()[1]);
            done.Add("added the unique index \"UC_Version\" back");
        }

        if (statements.Count == 0)
        {
            return new([], [], 0);
        }

        await using var newest = database.DbConnection.CreateCommand();
        newest.CommandText = $"SELECT max(\"Version\") FROM {Table}";
        return new(statements, done, await newest.ExecuteScalarAsync(cancel) is long current ? current : 0); // SQLite: text sorts above numbers
    }

    /// <summary>Runs a repair's statements in one transaction (the caller holds the migration lock).</summary>
    public static Task RepairAsync(Database database, VersionTableRepair repair, CancellationToken cancel) =>
        ExecuteInTransactionAsync(database, repair.Statements, cancel);

    private async Task<HashSet<string>> ColumnNamesAsync(Database database, CancellationToken cancel)
    {
        await using var command = database.DbConnection.CreateCommand();
        command.CommandText = $"SELECT * FROM {Table} WHERE 1 = 0";
        var present = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        await using var reader = await command.ExecuteReaderAsync(cancel);
        for (var i = 0; i < reader.FieldCount; i++)
        {
            present.Add(reader.GetName(i));
        }

        return present;
    }

    private static async Task<long> CountAsync(Database database, string sql, CancellationToken cancel)
    {
        await using var command = database.DbConnection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancel), System.Globalization.CultureInfo.InvariantCulture);
    }
}
