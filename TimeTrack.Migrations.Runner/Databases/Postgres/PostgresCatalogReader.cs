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
        var enums = await ReadEnumsAsync(connection, schema, cancel);
        var enumNames = enums.Select(e => e.Name).ToHashSet(StringComparer.Ordinal);
        var columns = await ReadColumnsAsync(connection, schema, enumNames, cancel);
        var constraints = await ReadConstraintsAsync(connection, schema, cancel);
        var indexes = await ReadIndexesAsync(connection, schema, cancel);
        var sequences = await ReadFreeSequencesAsync(connection, schema, cancel);

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

        return new DatabaseSchema(tables, enums, sequences, SchemaCapabilities.Full);
    }

    private static async Task<List<EnumSchema>> ReadEnumsAsync(NpgsqlConnection connection, string schema, CancellationToken cancel)
    {
        const string sql = """
            SELECT t.typname::text, array_agg(e.enumlabel::text ORDER BY e.enumsortorder)
            FROM pg_type t
            JOIN pg_enum e ON e.enumtypid = t.oid
            JOIN pg_namespace n ON n.oid = t.typnamespace
            WHERE n.nspname = @schema
            GROUP BY t.typname
            ORDER BY t.typname
            """;
        var result = new List<EnumSchema>();
        await foreach (var row in QueryAsync(connection, sql, schema, cancel))
        {
            result.Add(new EnumSchema(row.GetString(0), row.GetFieldValue<string[]>(1)));
        }

        return result;
    }

    private static async Task<List<(string Table, ColumnSchema Column)>> ReadColumnsAsync(
        NpgsqlConnection connection, string schema, HashSet<string> enumNames, CancellationToken cancel)
    {
        // atttypmod carries varchar length (+4) and numeric precision/scale ((p << 16 | s) + 4).
        const string sql = """
            SELECT c.relname::text, a.attname::text, t.typname::text, a.atttypmod, a.attnotnull,
                   pg_get_expr(d.adbin, d.adrelid), a.attidentity::text,
                   format_type(a.atttypid, a.atttypmod)
            FROM pg_attribute a
            JOIN pg_class c ON c.oid = a.attrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_type t ON t.oid = a.atttypid
            LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE n.nspname = @schema AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY c.relname, a.attnum
            """;
        var result = new List<(string, ColumnSchema)>();
        await foreach (var row in QueryAsync(connection, sql, schema, cancel))
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
                    : row.GetString(6) switch { "a" => "identity always", "d" => "identity by default", _ => null });
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

    private static async Task<List<ConstraintRow>> ReadConstraintsAsync(NpgsqlConnection connection, string schema, CancellationToken cancel)
    {
        const string sql = """
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
            WHERE n.nspname = @schema AND con.contype IN ('p', 'u', 'f', 'c')
            """;
        var result = new List<ConstraintRow>();
        await foreach (var row in QueryAsync(connection, sql, schema, cancel))
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

    private static async Task<List<(string Table, IndexSchema Index)>> ReadIndexesAsync(NpgsqlConnection connection, string schema, CancellationToken cancel)
    {
        // Indexes that back a primary key or unique constraint are reported as those constraints.
        const string sql = """
            SELECT tc.relname::text, ic.relname::text, i.indisunique, i.indisvalid,
                   ARRAY(SELECT a.attname::text FROM unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
                         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.ord),
                   am.amname::text, pg_get_expr(i.indpred, i.indrelid)
            FROM pg_index i
            JOIN pg_class ic ON ic.oid = i.indexrelid
            JOIN pg_am am ON am.oid = ic.relam
            JOIN pg_class tc ON tc.oid = i.indrelid
            JOIN pg_namespace n ON n.oid = tc.relnamespace
            WHERE n.nspname = @schema
              AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid AND con.contype IN ('p', 'u', 'x'))
            """;
        var result = new List<(string, IndexSchema)>();
        await foreach (var row in QueryAsync(connection, sql, schema, cancel))
        {
            result.Add((row.GetString(0), new IndexSchema(
                row.GetString(1), row.GetFieldValue<string[]>(4), row.GetBoolean(2), row.GetBoolean(3),
                Method: row.GetString(5), Predicate: row.IsDBNull(6) ? null : row.GetString(6))));
        }

        return result;
    }

    private static async Task<List<string>> ReadFreeSequencesAsync(NpgsqlConnection connection, string schema, CancellationToken cancel)
    {
        // Sequences owned by a column (serial) belong to that column; only free-standing ones are listed.
        const string sql = """
            SELECT c.relname::text
            FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = @schema AND c.relkind = 'S'
              AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i'))
            ORDER BY c.relname
            """;
        var result = new List<string>();
        await foreach (var row in QueryAsync(connection, sql, schema, cancel))
        {
            result.Add(row.GetString(0));
        }

        return result;
    }

    private static async IAsyncEnumerable<NpgsqlDataReader> QueryAsync(
        NpgsqlConnection connection, string sql, string schema, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancel)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.AddWithValue("schema", schema);
        await using var reader = await command.ExecuteReaderAsync(cancel);
        while (await reader.ReadAsync(cancel))
        {
            yield return reader;
        }
    }
}
