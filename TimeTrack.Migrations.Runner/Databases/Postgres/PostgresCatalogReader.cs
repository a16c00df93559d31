using Npgsql;
using TimeTrack.Migrations.Runner.Schema;

namespace TimeTrack.Migrations.Runner.Databases.Postgres;

/// <summary>
/// Reads one schema of a PostgreSQL database (<c>public</c>, or the scratch schema an expected
/// schema is built in) from pg_catalog into a <see cref="DatabaseSchema"/>.
/// </summary>
public static class PostgresCatalogReader
{
    public const string SchemaName = "public";

    public static async Task<DatabaseSchema> ReadAsync(NpgsqlConnection connection, CancellationToken cancel = default) =>
        await ReadAsync(connection, SchemaName, cancel);

    public static async Task<DatabaseSchema> ReadAsync(NpgsqlConnection connection, string schema, CancellationToken cancel = default)
    {
        // The five catalog queries in one batch: one round trip (adoption reads the live schema and an expected one).
        await using var batch = new NpgsqlBatch(connection);
        foreach (var sql in new[] { EnumsSql, ColumnsSql, ConstraintsSql, IndexesSql, FreeSequencesSql })
        {
            batch.BatchCommands.Add(new NpgsqlBatchCommand(sql) { Parameters = { new NpgsqlParameter { Value = schema } } });
        }

        await using var reader = await batch.ExecuteReaderAsync(cancel);
        var enums = await ReadEnumsAsync(reader, cancel);
        var enumNames = enums.Select(e => e.Name).ToHashSet(StringComparer.Ordinal);
        await reader.NextResultAsync(cancel);
        var columns = await ReadColumnsAsync(reader, enumNames, cancel);
        await reader.NextResultAsync(cancel);
        var constraints = await ReadConstraintsAsync(reader, cancel);
        await reader.NextResultAsync(cancel);
        var indexes = await ReadIndexesAsync(reader, cancel);
        await reader.NextResultAsync(cancel);
        var sequences = await ReadFreeSequencesAsync(reader, cancel);

        var tables = columns
            .GroupBy(c => c.Table)
            .Select(g => new TableSchema(
                g.Key,
                g.Select(c => c.Column).ToList(),
                constraints.Where(c => c.Table == g.Key && c.Kind == 'p').Select(c => new PrimaryKeySchema(c.Name, c.Columns)).FirstOrDefault(),
                constraints.Where(c => c.Table == g.Key && c.Kind == 'f')
                    .Select(c => new ForeignKeySchema(c.Name, c.Columns, c.ReferencedTable!, c.ReferencedColumns!, c.OnDelete))
                    .OrderBy(f => f.Name, StringComparer.Ordinal).ToList(),
                constraints.Where(c => c.Table == g.Key && c.Kind == 'u')
                    .Select(c => new UniqueConstraintSchema(c.Name, c.Columns))
                    .OrderBy(u => u.Name, StringComparer.Ordinal).ToList(),
                indexes.Where(i => i.Table == g.Key).Select(i => i.Index).OrderBy(i => i.Name, StringComparer.Ordinal).ToList(),
                constraints.Where(c => c.Table == g.Key && c.Kind == 'c')
                    .Select(c => new CheckConstraintSchema(c.Name, c.Definition!))
                    .OrderBy(c => c.Name, StringComparer.Ordinal).ToList()))
            .OrderBy(t => t.Name, StringComparer.Ordinal)
            .ToList();

        return new DatabaseSchema(tables, enums, sequences, SchemaCapabilities.Postgres);
    }

    private const string EnumsSql = """
            SELECT t.typname::text, array_agg(e.enumlabel::text ORDER BY e.enumsortorder)
            FROM pg_type t
            JOIN pg_enum e ON e.enumtypid = t.oid
            JOIN pg_namespace n ON n.oid = t.typnamespace
            WHERE n.nspname = $1
            GROUP BY t.typname
            ORDER BY t.typname
            """;

    private static async Task<List<EnumSchema>> ReadEnumsAsync(NpgsqlDataReader row, CancellationToken cancel)
    {
        var result = new List<EnumSchema>();
        while (await row.ReadAsync(cancel))
        {
            result.Add(new EnumSchema(row.GetString(0), row.GetFieldValue<string[]>(1)));
        }

        return result;
    }


    // atttypmod carries varchar length (+4) and numeric precision/scale ((p << 16 | s) + 4).
    // The sequence behind a column is the one its default depends on (serial: a regclass
    // constant in nextval) or the one internal to its identity; OWNED BY is an 'a' dependency
    // of the sequence on the column ('i' for an identity's).
    private const string ColumnsSql = """
            SELECT c.relname::text, a.attname::text, t.typname::text, a.atttypmod, a.attnotnull,
                   pg_get_expr(d.adbin, d.adrelid), a.attidentity::text,
                   format_type(a.atttypid, a.atttypmod),
                   seq.relname::text, format_type(ps.seqtypid, NULL), ps.seqstart, ps.seqincrement, ps.seqmin, ps.seqmax, ps.seqcycle,
                   EXISTS (SELECT 1 FROM pg_depend o
                           WHERE o.classid = 'pg_class'::regclass AND o.objid = seq.oid AND o.refclassid = 'pg_class'::regclass
                             AND o.refobjid = a.attrelid AND o.refobjsubid = a.attnum AND o.deptype IN ('a', 'i'))
            FROM pg_attribute a
            JOIN pg_class c ON c.oid = a.attrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_type t ON t.oid = a.atttypid
            LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            LEFT JOIN LATERAL (
                SELECT s.oid, s.relname FROM pg_depend dep JOIN pg_class s ON s.oid = dep.refobjid AND s.relkind = 'S'
                WHERE dep.classid = 'pg_attrdef'::regclass AND dep.objid = d.oid AND dep.refclassid = 'pg_class'::regclass
                UNION ALL
                SELECT s.oid, s.relname FROM pg_depend dep JOIN pg_class s ON s.oid = dep.objid AND s.relkind = 'S'
                WHERE a.attidentity <> '' AND dep.classid = 'pg_class'::regclass AND dep.refclassid = 'pg_class'::regclass
                  AND dep.refobjid = a.attrelid AND dep.refobjsubid = a.attnum AND dep.deptype = 'i'
                LIMIT 1) seq ON true
            LEFT JOIN pg_sequence ps ON ps.seqrelid = seq.oid
            WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY c.relname, a.attnum
            """;

    private static async Task<List<(string Table, ColumnSchema Column)>> ReadColumnsAsync(NpgsqlDataReader row, HashSet<string> enumNames, CancellationToken cancel)
    {
        var result = new List<(string, ColumnSchema)>();
        while (await row.ReadAsync(cancel))
        {
            var type = TypeOf(row.GetString(2), row.GetInt32(3), row.GetString(7), enumNames);
            var rawDefault = row.IsDBNull(5) ? null : row.GetString(5);
            var serial = rawDefault is not null && rawDefault.StartsWith("nextval(", StringComparison.Ordinal);
            var identity = serial || row.GetString(6) is "a" or "d";
            var column = new ColumnSchema(
                row.GetString(1),
                type,
                Nullable: !row.GetBoolean(4),
                Default: serial ? null : DefaultValues.Normalize(rawDefault, type),
                Identity: identity,
                Generator: serial ? rawDefault!.Replace("::regclass", "", StringComparison.Ordinal)
                    : row.GetString(6) switch { "a" => "identity always", "d" => "identity by default", _ => null },
                Sequence: row.IsDBNull(8) || row.IsDBNull(9) ? null : new SequenceSettings(
                    row.GetString(8), row.GetString(9), row.GetInt64(10), row.GetInt64(11), row.GetInt64(12), row.GetInt64(13), row.GetBoolean(14),
                    OwnedByColumn: row.GetBoolean(15)));
            result.Add((row.GetString(0), column));
        }

        return result;
    }

    private static ColumnType TypeOf(string typeName, int typmod, string formatted, HashSet<string> enumNames) => typeName switch
    {
        "int4" => new ColumnType(TypeKind.Integer),
        "int8" => new ColumnType(TypeKind.BigInt),
        "int2" => new ColumnType(TypeKind.SmallInt),
        "bool" => new ColumnType(TypeKind.Boolean),
        "text" => new ColumnType(TypeKind.Text),
        "varchar" => ColumnType.Varchar(typmod >= 4 ? typmod - 4 : null),
        "numeric" => typmod >= 4
            ? ColumnType.Numeric(((typmod - 4) >> 16) & 0xFFFF, (typmod - 4) & 0xFFFF)
            : ColumnType.Numeric(null, null),
        "timestamp" => new ColumnType(TypeKind.Timestamp),
        "timestamptz" => new ColumnType(TypeKind.TimestampTz),
        "date" => new ColumnType(TypeKind.Date),
        _ when enumNames.Contains(typeName) => ColumnType.EnumOf(typeName),
        _ => new ColumnType(TypeKind.Other, Name: formatted),
    };

    private sealed record ConstraintRow(
        string Table, string Name, char Kind, IReadOnlyList<string> Columns,
        string? ReferencedTable, IReadOnlyList<string>? ReferencedColumns, ReferentialAction OnDelete, string? Definition);

    private const string ConstraintsSql = """
            SELECT cl.relname::text, con.conname::text, con.contype::text,
                   ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(attnum, ord)
                         JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum ORDER BY k.ord),
                   fr.relname::text,
                   ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(attnum, ord)
                         JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum ORDER BY k.ord),
                   con.confdeltype::text, pg_get_constraintdef(con.oid)
            FROM pg_constraint con
            JOIN pg_class cl ON cl.oid = con.conrelid
            JOIN pg_namespace n ON n.oid = cl.relnamespace
            LEFT JOIN pg_class fr ON fr.oid = con.confrelid
            WHERE n.nspname = $1 AND con.contype IN ('p', 'u', 'f', 'c')
            """;

    private static async Task<List<ConstraintRow>> ReadConstraintsAsync(NpgsqlDataReader row, CancellationToken cancel)
    {
        var result = new List<ConstraintRow>();
        while (await row.ReadAsync(cancel))
        {
            var kind = row.GetString(2)[0];
            result.Add(new ConstraintRow(
                row.GetString(0), row.GetString(1), kind, row.GetFieldValue<string[]>(3),
                row.IsDBNull(4) ? null : row.GetString(4),
                kind == 'f' ? row.GetFieldValue<string[]>(5) : null,
                row.GetString(6) switch
                {
                    "c" => ReferentialAction.Cascade,
                    "n" => ReferentialAction.SetNull,
                    "r" => ReferentialAction.Restrict,
                    "d" => ReferentialAction.SetDefault,
                    _ => ReferentialAction.NoAction,
                },
                kind == 'c' ? row.GetString(7) : null));
        }

        return result;
    }


    // Indexes that back a primary key or unique constraint are reported as those constraints.
    // Each key (INCLUDE columns left out) as pg_get_indexdef prints it alone — a column name or
    // an expression — with indkey 0 marking an expression and indoption's bits DESC (1) and
    // NULLS FIRST (2); int2vector subscripts start at 0.
    private const string IndexesSql = """
            SELECT tc.relname::text, ic.relname::text, i.indisunique, i.indisvalid,
                   ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true) FROM generate_series(1, i.indnkeyatts) k ORDER BY k),
                   ARRAY(SELECT i.indkey[k - 1] = 0 FROM generate_series(1, i.indnkeyatts) k ORDER BY k),
                   ARRAY(SELECT i.indoption[k - 1]::int FROM generate_series(1, i.indnkeyatts) k ORDER BY k),
                   am.amname::text, pg_get_expr(i.indpred, i.indrelid)
            FROM pg_index i
            JOIN pg_class ic ON ic.oid = i.indexrelid
            JOIN pg_am am ON am.oid = ic.relam
            JOIN pg_class tc ON tc.oid = i.indrelid
            JOIN pg_namespace n ON n.oid = tc.relnamespace
            WHERE n.nspname = $1
              AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid AND con.contype IN ('p', 'u', 'x'))
            """;

    private static async Task<List<(string Table, IndexSchema Index)>> ReadIndexesAsync(NpgsqlDataReader row, CancellationToken cancel)
    {
        var result = new List<(string, IndexSchema)>();
        while (await row.ReadAsync(cancel))
        {
            var (texts, expressions, options) = (row.GetFieldValue<string[]>(4), row.GetFieldValue<bool[]>(5), row.GetFieldValue<int[]>(6));
            var keys = texts.Select((text, k) =>
            {
                var descending = (options[k] & 1) != 0;
                var nullsFirst = (options[k] & 2) != 0;
                return new IndexKey(text, expressions[k], descending, nullsFirst == descending ? null : nullsFirst);
            }).ToList();
            result.Add((row.GetString(0), new IndexSchema(
                row.GetString(1), keys, row.GetBoolean(2), row.GetBoolean(3),
                Method: row.GetString(7), Predicate: row.IsDBNull(8) ? null : row.GetString(8))));
        }

        return result;
    }


    // Sequences owned by a column (serial, identity) or used by a column's default belong to
    // that column, and are compared there; only free-standing ones are listed. (A serial's
    // sequence that lost its OWNED BY is still its default's, not an "extra" sequence.)
    private const string FreeSequencesSql = """
            SELECT c.relname::text
            FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = $1 AND c.relkind = 'S'
              AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i'))
              AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = c.oid AND d.classid = 'pg_attrdef'::regclass)
            ORDER BY c.relname
            """;

    private static async Task<List<string>> ReadFreeSequencesAsync(NpgsqlDataReader row, CancellationToken cancel)
    {
        var result = new List<string>();
        while (await row.ReadAsync(cancel))
        {
            result.Add(row.GetString(0));
        }

        return result;
    }
}
