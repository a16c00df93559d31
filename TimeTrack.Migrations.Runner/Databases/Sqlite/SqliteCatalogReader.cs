using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;
using TimeTrack.Migrations.Runner.Schema;

namespace TimeTrack.Migrations.Runner.Databases.Sqlite;

/// <summary>
/// Reads a SQLite database through its pragmas into a <see cref="DatabaseSchema"/>. SQLite has
/// no enum types: an enumeration is a text column with a CHECK (col IN (...)) constraint named
/// after the type, which is read back as an enum so both providers look alike.
/// </summary>
public static partial class SqliteCatalogReader
{
    public static async Task<DatabaseSchema> ReadAsync(SqliteConnection connection, CancellationToken cancel = default)
    {
        var tables = new List<TableSchema>();
        var enums = new SortedDictionary<string, EnumSchema>(StringComparer.Ordinal);

        var definitions = new List<(string Name, string Sql)>();
        await foreach (var row in QueryAsync(connection, "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name", cancel))
        {
            definitions.Add((row.GetString(0), row.IsDBNull(1) ? "" : row.GetString(1)));
        }

        foreach (var (name, createSql) in definitions)
        {
            var checks = EnumChecks(createSql);
            foreach (var check in checks.Values)
            {
                enums[check.TypeName] = new EnumSchema(check.TypeName, check.Values);
            }

            tables.Add(await ReadTableAsync(connection, name, checks, cancel));
        }

        return new DatabaseSchema(tables, enums.Values.ToList(), [], SchemaCapabilities.Sqlite);
    }

    private sealed record EnumCheck(string TypeName, IReadOnlyList<string> Values);

    private static async Task<TableSchema> ReadTableAsync(
        SqliteConnection connection, string table, IReadOnlyDictionary<string, EnumCheck> checks, CancellationToken cancel)
    {
        var quoted = Quote(table);
        var columns = new List<ColumnSchema>();
        var keyColumns = new SortedList<int, string>();
        var declaredTypes = new Dictionary<string, string>();

        await foreach (var row in QueryAsync(connection, $"PRAGMA table_info({quoted})", cancel))
        {
            var name = row.GetString(1);
            var declared = row.GetString(2);
            declaredTypes[name] = declared;
            var type = checks.TryGetValue(name, out var check) ? ColumnType.EnumOf(check.TypeName) : TypeOf(declared);
            var rawDefault = row.IsDBNull(4) ? null : row.GetString(4);
            columns.Add(new ColumnSchema(name, type, Nullable: row.GetInt64(3) == 0, DefaultValues.Normalize(rawDefault, type)));
            if (row.GetInt64(5) > 0)
            {
                keyColumns.Add((int)row.GetInt64(5), name);
            }
        }

        // A single INTEGER primary key is the rowid: auto-numbered. Report it as identity, as
        // PostgreSQL reports serial; the comparer does not rely on it for SQLite (see SchemaCapabilities).
        if (keyColumns.Count == 1 && declaredTypes[keyColumns.Values[0]].Equals("INTEGER", StringComparison.OrdinalIgnoreCase))
        {
            var i = columns.FindIndex(c => c.Name == keyColumns.Values[0]);
            columns[i] = columns[i] with { Identity = true };
        }

        var primaryKey = keyColumns.Count == 0 ? null : new PrimaryKeySchema($"{table}_pkey", keyColumns.Values.ToList());

        var foreignKeys = new Dictionary<long, ForeignKeySchema>();
        await foreach (var row in QueryAsync(connection, $"PRAGMA foreign_key_list({quoted})", cancel))
        {
            var id = row.GetInt64(0);
            var from = row.GetString(3);
            var to = row.IsDBNull(4) ? "id" : row.GetString(4);
            foreignKeys[id] = foreignKeys.TryGetValue(id, out var fk)
                ? fk with { Columns = [.. fk.Columns, from], ReferencedColumns = [.. fk.ReferencedColumns, to] }
                : new ForeignKeySchema("", [from], row.GetString(2), [to], ActionOf(row.GetString(6)));
        }

        var uniques = new List<UniqueConstraintSchema>();
        var indexes = new List<IndexSchema>();
        var indexList = new List<(string Name, bool Unique, string Origin)>();
        await foreach (var row in QueryAsync(connection, $"PRAGMA index_list({quoted})", cancel))
        {
            indexList.Add((row.GetString(1), row.GetInt64(2) == 1, row.GetString(3)));
        }

        foreach (var (name, unique, origin) in indexList)
        {
            if (origin == "pk")
            {
                continue;
            }

            // index_xinfo: (seqno, cid, name, desc, coll, key); key 0 rows are the rowid appended to
            // every index. cid -2 is an expression, whose text only the CREATE INDEX statement has.
            // SQLite has no NULLS FIRST/LAST for index keys (only in ORDER BY), so there is none to read.
            var keys = new List<IndexKey>();
            IReadOnlyList<string>? written = null;
            await foreach (var row in QueryAsync(connection, $"PRAGMA index_xinfo({Quote(name)})", cancel))
            {
                if (row.GetInt64(5) == 0)
                {
                    continue;
                }

                var expression = row.GetInt64(1) == -2;
                if (expression)
                {
                    written ??= IndexKeyTexts(await IndexSqlAsync(connection, name, cancel));
                }

                var text = expression ? written!.ElementAtOrDefault(keys.Count) ?? "?" : row.GetString(2);
                keys.Add(new IndexKey(text, expression, Descending: row.GetInt64(3) == 1));
            }

            var indexColumns = keys.Select(k => k.Text).ToList();

            // SQLite has no named unique constraints: an inline UNIQUE becomes sqlite_autoindex_*,
            // and FluentMigrator writes a unique constraint as a unique index. Both are the
            // constraint; the inline one gets PostgreSQL's default name.
            if (unique)
            {
                uniques.Add(new UniqueConstraintSchema(origin == "u" ? $"{table}_{string.Join("_", indexColumns)}_key" : name, indexColumns));
            }
            else
            {
                indexes.Add(new IndexSchema(name, keys));
            }
        }

        var namedForeignKeys = foreignKeys.Values
            .Select(fk => fk with { Name = $"{table}_{string.Join("_", fk.Columns)}_fkey" })
            .OrderBy(fk => fk.Name, StringComparer.Ordinal)
            .ToList();

        return new TableSchema(
            table,
            columns,
            primaryKey,
            namedForeignKeys,
            uniques.OrderBy(u => u.Name, StringComparer.Ordinal).ToList(),
            indexes.OrderBy(i => i.Name, StringComparer.Ordinal).ToList());
    }

    private static async Task<string> IndexSqlAsync(SqliteConnection connection, string index, CancellationToken cancel)
    {
        await foreach (var row in QueryAsync(connection, $"SELECT sql FROM sqlite_master WHERE type = 'index' AND name = '{index.Replace("'", "''")}'", cancel))
        {
            return row.IsDBNull(0) ? "" : row.GetString(0);
        }

        return "";
    }

    /// <summary>
    /// The keys of CREATE INDEX ... ON t (a, lower(b) DESC) as written, without their sort order
    /// or collation: the first parenthesised list (outside quotes), split at its top-level commas.
    /// </summary>
    private static List<string> IndexKeyTexts(string createIndex)
    {
        var keys = new List<string>();
        var (depth, start, quote) = (0, -1, '\0');
        for (var i = 0; i < createIndex.Length; i++)
        {
            var ch = createIndex[i];
            if (quote != '\0')
            {
                quote = ch == quote ? '\0' : quote;
            }
            else if (ch is '\'' or '"' or '`' or '[')
            {
                quote = ch == '[' ? ']' : ch;
            }
            else if (ch == '(' && depth++ == 0)
            {
                start = i + 1;
            }
            else if ((ch == ',' && depth == 1) || (ch == ')' && --depth == 0))
            {
                keys.Add(SortOrder().Replace(createIndex[start..i], "").Trim());
                start = i + 1;
                if (depth == 0)
                {
                    break;
                }
            }
        }

        return keys;
    }

    private static ColumnType TypeOf(string declared)
    {
        var match = DeclaredType().Match(declared.Trim());
        var name = match.Success ? match.Groups["name"].Value.ToUpperInvariant() : declared.ToUpperInvariant();
        int? first = match.Groups["a"].Success ? int.Parse(match.Groups["a"].Value) : null;
        int? second = match.Groups["b"].Success ? int.Parse(match.Groups["b"].Value) : null;
        return name switch
        {
            "INTEGER" or "INT" => new ColumnType(TypeKind.Integer),
            "BIGINT" => new ColumnType(TypeKind.BigInt),
            "SMALLINT" => new ColumnType(TypeKind.SmallInt),
            "BOOLEAN" or "BOOL" => new ColumnType(TypeKind.Boolean),
            "VARCHAR" or "CHARACTER VARYING" or "NVARCHAR" => ColumnType.Varchar(first),
            "TEXT" or "CLOB" => new ColumnType(TypeKind.Text),
            "NUMERIC" or "DECIMAL" => ColumnType.Numeric(first, first is null ? null : second ?? 0),
            "DATETIME" or "TIMESTAMP" => new ColumnType(TypeKind.Timestamp),
            "DATE" => new ColumnType(TypeKind.Date),
            _ => new ColumnType(TypeKind.Other, Name: declared),
        };
    }

    private static ReferentialAction ActionOf(string rule) => rule.ToUpperInvariant() switch
    {
        "CASCADE" => ReferentialAction.Cascade,
        "SET NULL" => ReferentialAction.SetNull,
        "SET DEFAULT" => ReferentialAction.SetDefault,
        "RESTRICT" => ReferentialAction.Restrict,
        _ => ReferentialAction.NoAction,
    };

    /// <summary>CONSTRAINT name CHECK (column IN ('A', 'B')), at column or table level, keyed by column.</summary>
    private static Dictionary<string, EnumCheck> EnumChecks(string createSql)
    {
        var result = new Dictionary<string, EnumCheck>(StringComparer.Ordinal);
        foreach (Match match in EnumCheckPattern().Matches(createSql))
        {
            var values = Literal().Matches(match.Groups["values"].Value).Select(m => m.Groups[1].Value.Replace("''", "'")).ToList();
            result[Unquote(match.Groups["column"].Value)] = new EnumCheck(Unquote(match.Groups["name"].Value), values);
        }

        return result;
    }

    private static string Unquote(string identifier) =>
        identifier.Length >= 2 && identifier[0] is '"' or '`' or '[' ? identifier[1..^1].Replace("\"\"", "\"") : identifier;

    internal static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"") + "\"";

    private static async IAsyncEnumerable<SqliteDataReader> QueryAsync(
        SqliteConnection connection, string sql, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancel)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await using var reader = await command.ExecuteReaderAsync(cancel);
        while (await reader.ReadAsync(cancel))
        {
            yield return reader;
        }
    }

    [GeneratedRegex(@"CONSTRAINT\s+(?<name>""[^""]+""|\w+)\s+CHECK\s*\(\s*(?<column>""[^""]+""|\w+)\s+IN\s*\((?<values>(?:\s*'(?:[^']|'')*'\s*,?)+)\)\s*\)", RegexOptions.IgnoreCase)]
    private static partial Regex EnumCheckPattern();

    [GeneratedRegex(@"(\s+COLLATE\s+\S+)?(\s+(ASC|DESC))?\s*$", RegexOptions.IgnoreCase)]
    private static partial Regex SortOrder();

    [GeneratedRegex(@"'((?:[^']|'')*)'")]
    private static partial Regex Literal();

    [GeneratedRegex(@"^(?<name>[A-Za-z ]+?)\s*(\(\s*(?<a>\d+)\s*(,\s*(?<b>\d+)\s*)?\))?$")]
    private static partial Regex DeclaredType();
}
