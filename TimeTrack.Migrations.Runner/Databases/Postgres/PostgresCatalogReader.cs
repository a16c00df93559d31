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
        // The catalog queries in one batch: one round trip (adoption reads the live schema and an
        // expected one). Every value is a scalar: lists (an enum's labels, a key's columns) come
        // as rows, in order, so that neither connection pays for Npgsql's array support (its
        // mappings are built, and much of it JIT-compiled, on the first array read: about 30 ms).
        await using var batch = new NpgsqlBatch(connection);
        foreach (var sql in new[] { EnumsSql, ColumnsSql, ConstraintsSql, ConstraintColumnsSql, IndexesSql, IndexKeysSql, FreeSequencesSql })
        {
            batch.BatchCommands.Add(new NpgsqlBatchCommand(sql) { Parameters = { new NpgsqlParameter { Value = schema } } });
        }

        await using var reader = await batch.ExecuteReaderAsync(cancel);
        var enums = await ReadEnumsAsync(reader, cancel);
        var enumNames = enums.Select(e => e.Name).ToHashSet(StringComparer.Ordinal);
        await reader.NextResultAsync(cancel);
        var columns = await ReadColumnsAsync(reader, enumNames, cancel);
        await reader.NextResultAsync(cancel);
        var constraintRows = await ReadConstraintsAsync(reader, cancel);
        await reader.NextResultAsync(cancel);
        var constraints = await ReadConstraintColumnsAsync(reader, constraintRows, cancel);
        await reader.NextResultAsync(cancel);
        var indexRows = await ReadIndexesAsync(reader, cancel);
        await reader.NextResultAsync(cancel);
        var indexes = await ReadIndexKeysAsync(reader, indexRows, cancel);
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
            SELECT t.typname::text, e.enumlabel::text
            FROM pg_type t
            JOIN pg_enum e ON e.enumtypid = t.oid
            JOIN pg_namespace n ON n.oid = t.typnamespace
            WHERE n.nspname = $1
            ORDER BY t.typname, e.enumsortorder
            """;

    private static async Task<List<EnumSchema>> ReadEnumsAsync(NpgsqlDataReader row, CancellationToken cancel)
    {
        var labels = new List<(string Type, string Label)>();
        while (await row.ReadAsync(cancel))
        {
            labels.Add((row.GetString(0), row.GetString(1)));
        }

        return [.. labels.GroupBy(l => l.Type, l => l.Label).Select(g => new EnumSchema(g.Key, [.. g]))];
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
            SELECT con.oid::int8, cl.relname::text, con.conname::text, con.contype::text, fr.relname::text,
                   con.confdeltype::text, pg_get_constraintdef(con.oid)
            FROM pg_constraint con
            JOIN pg_class cl ON cl.oid = con.conrelid
            JOIN pg_namespace n ON n.oid = cl.relnamespace
            LEFT JOIN pg_class fr ON fr.oid = con.confrelid
            WHERE n.nspname = $1 AND con.contype IN ('p', 'u', 'f', 'c')
            """;

    // Each constraint's columns, in key order: its own (false), then those it references (true).
    private const string ConstraintColumnsSql = """
            SELECT con.oid::int8, k.referenced, a.attname::text
            FROM pg_constraint con
            JOIN pg_class cl ON cl.oid = con.conrelid
            JOIN pg_namespace n ON n.oid = cl.relnamespace
            CROSS JOIN LATERAL (
                SELECT false AS referenced, con.conrelid AS relid, u.attnum, u.ord FROM unnest(con.conkey) WITH ORDINALITY u(attnum, ord)
                UNION ALL
                SELECT true, con.confrelid, u.attnum, u.ord FROM unnest(con.confkey) WITH ORDINALITY u(attnum, ord)) k
            JOIN pg_attribute a ON a.attrelid = k.relid AND a.attnum = k.attnum
            WHERE n.nspname = $1 AND con.contype IN ('p', 'u', 'f', 'c')
            ORDER BY con.oid, k.referenced, k.ord
            """;

    private static async Task<List<(long Id, ConstraintRow Row)>> ReadConstraintsAsync(NpgsqlDataReader row, CancellationToken cancel)
    {
        var result = new List<(long, ConstraintRow)>();
        while (await row.ReadAsync(cancel))
        {
            var kind = row.GetString(3)[0];
            result.Add((row.GetInt64(0), new ConstraintRow(
                row.GetString(1), row.GetString(2), kind, [],
                row.IsDBNull(4) ? null : row.GetString(4),
                kind == 'f' ? [] : null,
                row.GetString(5) switch
                {
                    "c" => ReferentialAction.Cascade,
                    "n" => ReferentialAction.SetNull,
                    "r" => ReferentialAction.Restrict,
                    "d" => ReferentialAction.SetDefault,
                    _ => ReferentialAction.NoAction,
                },
                kind == 'c' ? row.GetString(6) : null)));
        }

        return result;
    }

    /// <summary>The constraints read before, each with its columns (and a foreign key's referenced ones).</summary>
    private static async Task<List<ConstraintRow>> ReadConstraintColumnsAsync(NpgsqlDataReader row, List<(long Id, ConstraintRow Row)> constraints, CancellationToken cancel)
    {
        var columns = new Dictionary<(long, bool), List<string>>();
        while (await row.ReadAsync(cancel))
        {
            var key = (row.GetInt64(0), row.GetBoolean(1));
            if (!columns.TryGetValue(key, out var list))
            {
                columns[key] = list = [];
            }

            list.Add(row.GetString(2));
        }

        return [.. constraints.Select(c => c.Row with
        {
            Columns = columns.GetValueOrDefault((c.Id, false)) ?? [],
            ReferencedColumns = c.Row.Kind == 'f' ? columns.GetValueOrDefault((c.Id, true)) ?? [] : null,
        })];
    }

    // Indexes that back a primary key or unique constraint are reported as those constraints.
    private const string IndexesSql = """
            SELECT i.indexrelid::int8, tc.relname::text, ic.relname::text, i.indisunique, i.indisvalid,
                   am.amname::text, pg_get_expr(i.indpred, i.indrelid)
            FROM pg_index i
            JOIN pg_class ic ON ic.oid = i.indexrelid
            JOIN pg_am am ON am.oid = ic.relam
            JOIN pg_class tc ON tc.oid = i.indrelid
            JOIN pg_namespace n ON n.oid = tc.relnamespace
            WHERE n.nspname = $1
              AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid AND con.contype IN ('p', 'u', 'x'))
            """;

    // Each index's keys in order (INCLUDE columns left out), as pg_get_indexdef prints one alone —
    // a column name or an expression — with indkey 0 marking an expression and indoption's bits
    // DESC (1) and NULLS FIRST (2); int2vector subscripts start at 0.
    private const string IndexKeysSql = """
            SELECT i.indexrelid::int8, pg_get_indexdef(i.indexrelid, k, true), i.indkey[k - 1] = 0, i.indoption[k - 1]::int
            FROM pg_index i
            JOIN pg_class tc ON tc.oid = i.indrelid
            JOIN pg_namespace n ON n.oid = tc.relnamespace
            CROSS JOIN LATERAL generate_series(1, i.indnkeyatts) k
            WHERE n.nspname = $1
            ORDER BY i.indexrelid, k
            """;

    private static async Task<List<(long Id, string Table, IndexSchema Index)>> ReadIndexesAsync(NpgsqlDataReader row, CancellationToken cancel)
    {
        var result = new List<(long, string, IndexSchema)>();
        while (await row.ReadAsync(cancel))
        {
            result.Add((row.GetInt64(0), row.GetString(1), new IndexSchema(
                row.GetString(2), [], row.GetBoolean(3), row.GetBoolean(4),
                Method: row.GetString(5), Predicate: row.IsDBNull(6) ? null : row.GetString(6))));
        }

        return result;
    }

    /// <summary>The indexes read before, each with its keys.</summary>
    private static async Task<List<(string Table, IndexSchema Index)>> ReadIndexKeysAsync(NpgsqlDataReader row, List<(long Id, string Table, IndexSchema Index)> indexes, CancellationToken cancel)
    {
        var keys = new Dictionary<long, List<IndexKey>>();
        while (await row.ReadAsync(cancel))
        {
            var id = row.GetInt64(0);
            if (!keys.TryGetValue(id, out var list))
            {
                keys[id] = list = [];
            }

            var option = row.GetInt32(3);
            var descending = (option & 1) != 0;
            var nullsFirst = (option & 2) != 0;
            list.Add(new IndexKey(row.GetString(1), row.GetBoolean(2), descending, nullsFirst == descending ? null : nullsFirst));
        }

        return [.. indexes.Select(i => (i.Table, i.Index with { Keys = keys.GetValueOrDefault(i.Id) ?? [] }))];
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
