using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using FluentMigrator.Expressions;
using Npgsql;
using TimeTrack.Migrations.Runner.Output;
using TimeTrack.Migrations.Runner.Running;

namespace TimeTrack.Migrations.Runner.Databases.Postgres;

/// <summary>
/// The privilege preflight: before the first write, what each planned step needs of the role
/// (CREATE on a schema for new objects, ownership of each existing table it alters, drops or
/// indexes, and of each index, view, sequence or type its raw SQL alters or drops by name, CREATE
/// on the database for schemas and extensions, INSERT/UPDATE/DELETE/TRUNCATE for data it
/// writes), read from the steps' FluentMigrator expressions, and checked in one query. A missing
/// privilege is exit 5 naming it, the object and the step, with nothing written: without it the
/// step would fail halfway with 42501, after the version table was created.
/// </summary>
/// <remarks>
/// Raw SQL (<c>Execute.Sql</c>) is read best effort: the statement kinds below, by pattern (each
/// name of a list: DROP TABLE a, b). What it misses (GRANT, whose grant option a non-owner may
/// hold; ALTER FUNCTION, whose arguments name the overload) still fails at its step, rolled back
/// with the step's transaction.
/// </remarks>
internal static partial class PostgresPrivileges
{
    /// <summary>What one step needs: a privilege on an object (Kind: database, schema, owner, type-owner, table).</summary>
    /// <param name="Name">The relation (owner: a table, index, view or sequence; table), the type
    /// (type-owner); for schema, a table whose existence makes CREATE unnecessary.</param>
    private sealed record Need(string Kind, string? Schema, string? Name, string Privilege, string NeededBy);

    /// <param name="recorder">Its renderer reads the steps' expressions (built once per run, and used for the recorded Downs anyway).</param>
    public static async Task CheckAsync(PostgresDatabase database, HistoryRecorder recorder, IReadOnlyList<PlannedStep> plan, CancellationToken cancel)
    {
        if (plan.Count == 0)
        {
            return; // the no-op path asks nothing
        }

        var needs = VersionTableNeeds().Concat(StepNeeds(recorder, plan)).ToList();
        var missing = await MissingAsync(database.Connection, needs, cancel);
        if (missing.Count > 0)
        {
            throw new UserError(ExitCode.Refused,
                string.Join("; ", missing) + ". Nothing was written: grant what is named (deploy/roles.sql makes a role that has it) " +
                "or migrate as the owner of these objects");
        }
    }

    /// <summary>The adoption stamp writes only the version table: what that needs.</summary>
    public static async Task CheckVersionTableAsync(PostgresDatabase database, CancellationToken cancel)
    {
        var missing = await MissingAsync(database.Connection, VersionTableNeeds().ToList(), cancel);
        if (missing.Count > 0)
        {
            throw new UserError(ExitCode.Refused, string.Join("; ", missing) + ". Nothing was written");
        }
    }

    /// <summary>Creating the version table (in public) when it is missing, and writing its rows.</summary>
    private static IEnumerable<Need> VersionTableNeeds()
    {
        const string neededBy = "the version table";
        yield return new Need("schema", "public", VersionTable.Name, "CREATE", neededBy);
        yield return new Need("table", "public", VersionTable.Name, "INSERT", neededBy);
        yield return new Need("table", "public", VersionTable.Name, "DELETE", neededBy);
    }

    private static IEnumerable<Need> StepNeeds(HistoryRecorder recorder, IReadOnlyList<PlannedStep> plan)
    {
        // Tables and schemas the plan creates before a later step uses them: those it will own.
        var created = new HashSet<(string?, string)>();
        var createdSchemas = new HashSet<string>();
        foreach (var step in plan)
        {
            var neededBy = $"{step.Migration.Version} ({step.Migration.Description})";
            IEnumerable<Need> needs = step.RecordedDown is { } recorded
                ? recorded.SelectMany(sql => FromSql(sql, neededBy))
                : recorder.Renderer.Expressions(step).SelectMany(e => FromExpression(e, neededBy));
            foreach (var need in needs)
            {
                if (need.Kind == "created")
                {
                    created.Add((need.Schema, need.Name!));
                    continue;
                }

                if (need.Kind == "created-schema")
                {
                    createdSchemas.Add(need.Schema!);
                    continue;
                }

                if ((need.Kind is "owner" or "table" && created.Contains((need.Schema, need.Name!)))
                    || (need.Kind == "schema" && need.Schema is { } s && createdSchemas.Contains(s)))
                {
                    continue;
                }

                yield return need;
            }
        }
    }

    private static Need Owner(string? schema, string table, string neededBy) => new("owner", schema, table, "ownership", neededBy);

    private static Need Created(string? schema, string table) => new("created", schema, table, "", "");

    private static IEnumerable<Need> FromExpression(IMigrationExpression expression, string by) => expression switch
    {
        CreateTableExpression e => [new Need("schema", e.SchemaName, null, "CREATE", by), Created(e.SchemaName, e.TableName)],
        CreateSequenceExpression e => [new Need("schema", e.Sequence.SchemaName, null, "CREATE", by)],
        CreateSchemaExpression e => [new Need("database", null, null, "CREATE", by), new Need("created-schema", e.SchemaName, null, "", "")],
        CreateIndexExpression e => [Owner(e.Index.SchemaName, e.Index.TableName, by)],
        DeleteIndexExpression e => [Owner(e.Index.SchemaName, e.Index.TableName, by)],
        RenameTableExpression e => [Owner(e.SchemaName, e.OldName, by), Created(e.SchemaName, e.NewName)],
        DeleteTableExpression e => [Owner(e.SchemaName, e.TableName, by)],
        CreateColumnExpression e => [Owner(e.SchemaName, e.TableName, by)],
        AlterColumnExpression e => [Owner(e.SchemaName, e.TableName, by)],
        AlterTableExpression e => [Owner(e.SchemaName, e.TableName, by)],
        DeleteColumnExpression e => [Owner(e.SchemaName, e.TableName, by)],
        RenameColumnExpression e => [Owner(e.SchemaName, e.TableName, by)],
        CreateForeignKeyExpression e => [Owner(e.ForeignKey.ForeignTableSchema, e.ForeignKey.ForeignTable, by)],
        DeleteForeignKeyExpression e => [Owner(e.ForeignKey.ForeignTableSchema, e.ForeignKey.ForeignTable, by)],
        CreateConstraintExpression e => [Owner(e.Constraint.SchemaName, e.Constraint.TableName, by)],
        DeleteConstraintExpression e => [Owner(e.Constraint.SchemaName, e.Constraint.TableName, by)],
        AlterDefaultConstraintExpression e => [Owner(e.SchemaName, e.TableName, by)],
        DeleteDefaultConstraintExpression e => [Owner(e.SchemaName, e.TableName, by)],
        InsertDataExpression e => [new Need("table", e.SchemaName, e.TableName, "INSERT", by)],
        UpdateDataExpression e => [new Need("table", e.SchemaName, e.TableName, "UPDATE", by)],
        DeleteDataExpression e => [new Need("table", e.SchemaName, e.TableName, "DELETE", by)],
        ExecuteSqlStatementExpression e => FromSql(e.SqlStatement, by),
        _ => [],
    };

    /// <summary>Raw SQL, best effort: the statements a migration commonly runs, by their first words.</summary>
    private static IEnumerable<Need> FromSql(string sql, string by)
    {
        if (CreateDatabaseObject().IsMatch(sql))
        {
            yield return new Need("database", null, null, "CREATE", by); // CREATE SCHEMA, CREATE EXTENSION
        }

        foreach (Match m in CreateSchemaObject().Matches(sql))
        {
            var (schema, name) = Name(m.Groups["name"].Value);
            yield return new Need("schema", schema, null, "CREATE", by);
            if (m.Groups["kind"].Value.Equals("TABLE", StringComparison.OrdinalIgnoreCase))
            {
                yield return Created(schema, name);
            }
        }

        foreach (var (schema, name) in OwnerStatement().Matches(sql).Concat(ColumnCommentStatement().Matches(sql)).SelectMany(Names))
        {
            yield return Owner(schema, name, by);
        }

        foreach (var (schema, name) in TypeOwnerStatement().Matches(sql).SelectMany(Names))
        {
            yield return new Need("type-owner", schema, name, "ownership", by);
        }

        foreach (Match m in DataStatement().Matches(sql))
        {
            var verb = m.Groups["verb"].Value.ToUpperInvariant();
            var privilege = new[] { "INSERT", "UPDATE", "TRUNCATE" }.FirstOrDefault(p => verb.StartsWith(p, StringComparison.Ordinal)) ?? "DELETE";
            foreach (var (schema, name) in Names(m))
            {
                yield return new Need("table", schema, name, privilege, by);
            }
        }
    }

    /// <summary>Every name a statement's match lists, in order.</summary>
    private static IEnumerable<(string? Schema, string Name)> Names(Match match) => match.Groups["name"].Captures.Select(c => Name(c.Value));

    /// <summary>A possibly schema-qualified SQL name as PostgreSQL folds it (unquoted: lower case).</summary>
    private static (string? Schema, string Name) Name(string qualified)
    {
        var parts = IdentifierPart().Matches(qualified).Select(p => p.Value.StartsWith('"') ? p.Value[1..^1].Replace("\"\"", "\"", StringComparison.Ordinal) : p.Value.ToLowerInvariant()).ToList();
        return parts.Count > 1 ? (parts[0], parts[1]) : (null, parts[0]);
    }

    private const string Identifier = """(?:"(?:[^"]|"")+"|[A-Za-z_][\w$]*)""";
    private const string QualifiedName = "(?<name>" + Identifier + @"(?:\s*\.\s*" + Identifier + ")?)";

    // One name or a list of them (DROP TABLE a, b; TRUNCATE a, b): each is a capture of the group "name".
    private const string QualifiedNames = QualifiedName + @"(?:\s*,\s*" + QualifiedName + ")*";

    [GeneratedRegex("""\bCREATE\s+(?:SCHEMA|EXTENSION)\b""", RegexOptions.IgnoreCase)]
    private static partial Regex CreateDatabaseObject();

    [GeneratedRegex(@"\bCREATE\s+(?:OR\s+REPLACE\s+)?(?:UNLOGGED\s+)?(?<kind>TABLE|TYPE|SEQUENCE|VIEW|FUNCTION|PROCEDURE)\s+(?:IF\s+NOT\s+EXISTS\s+)?" + QualifiedName, RegexOptions.IgnoreCase)]
    private static partial Regex CreateSchemaObject();

    // The relation's owner: a table indexed, altered or dropped; an index, view or sequence altered,
    // dropped or refreshed by its own name (DROP INDEX names the index, not its table).
    [GeneratedRegex(@"\b(?:CREATE\s+(?:UNIQUE\s+)?INDEX\s+(?:CONCURRENTLY\s+)?(?:IF\s+NOT\s+EXISTS\s+)?(?:" + Identifier + @"\s+)?ON\s+(?:ONLY\s+)?|ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?|DROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?"
        + @"|(?:ALTER|DROP)\s+(?:INDEX|VIEW|MATERIALIZED\s+VIEW|SEQUENCE)\s+(?:CONCURRENTLY\s+)?(?:IF\s+EXISTS\s+)?|REFRESH\s+MATERIALIZED\s+VIEW\s+(?:CONCURRENTLY\s+)?"
        + @"|COMMENT\s+ON\s+(?:TABLE|VIEW|MATERIALIZED\s+VIEW|SEQUENCE|INDEX|FOREIGN\s+TABLE)\s+|COMMENT\s+ON\s+CONSTRAINT\s+" + Identifier + @"\s+ON\s+(?!DOMAIN\b))"
        + QualifiedNames, RegexOptions.IgnoreCase)]
    private static partial Regex OwnerStatement();

    // COMMENT ON COLUMN [schema.]table.column: the table's owner.
    [GeneratedRegex(@"\bCOMMENT\s+ON\s+COLUMN\s+(?<name>" + Identifier + @"(?:\s*\.\s*" + Identifier + @")?)\s*\.\s*" + Identifier, RegexOptions.IgnoreCase)]
    private static partial Regex ColumnCommentStatement();

    // The type's owner: ALTER TYPE (an enum's new value) and DROP TYPE, and domains alike.
    [GeneratedRegex(@"\b(?:(?:ALTER|DROP)\s+(?:TYPE|DOMAIN)\s+(?:IF\s+EXISTS\s+)?|COMMENT\s+ON\s+(?:TYPE|DOMAIN)\s+)" + QualifiedNames, RegexOptions.IgnoreCase)]
    private static partial Regex TypeOwnerStatement();

    [GeneratedRegex(@"\b(?<verb>INSERT\s+INTO|UPDATE\s+(?:ONLY\s+)?(?=\S+\s+SET\b)|DELETE\s+FROM\s+(?:ONLY\s+)?|TRUNCATE\s+(?:TABLE\s+)?(?:ONLY\s+)?)\s*" + QualifiedNames, RegexOptions.IgnoreCase)]
    private static partial Regex DataStatement();

    [GeneratedRegex(Identifier)]
    private static partial Regex IdentifierPart();

    /// <summary>
    /// One round trip: each need checked with has_*_privilege / pg_has_role on the owner, a missing
    /// object counting as no need (its step fails on its own, not for a privilege). The lines of
    /// what is missing, each naming the role, the privilege, the object and the first step needing it.
    /// </summary>
    private static async Task<IReadOnlyList<string>> MissingAsync(NpgsqlConnection connection, IReadOnlyList<Need> needs, CancellationToken cancel)
    {
        await using var command = new NpgsqlCommand(
            """
            SELECT n.i::int, current_user::text, current_database()::text, coalesce(n.schema, current_schema(), 'public')::text,
                   pg_get_userbyid(coalesce(c.relowner, t.typowner))::text,
                   CASE WHEN t.typtype = 'd' THEN 'domain' WHEN t.oid IS NOT NULL THEN 'type' ELSE CASE c.relkind
                       WHEN 'i' THEN 'index' WHEN 'I' THEN 'index' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                       WHEN 'S' THEN 'sequence' WHEN 'f' THEN 'foreign table' ELSE 'table' END END
            FROM ROWS FROM (json_to_recordset(@needs::json) AS (kind text, schema text, name text, privilege text)) WITH ORDINALITY AS n(kind, schema, name, privilege, i)
            LEFT JOIN pg_namespace s ON s.nspname = coalesce(n.schema, current_schema())
            LEFT JOIN pg_class c ON c.oid = CASE WHEN n.name IS NOT NULL AND n.kind <> 'type-owner'
                THEN to_regclass(format('%I.%I', coalesce(n.schema, current_schema(), 'public'), n.name)) END
            LEFT JOIN pg_type t ON t.oid = CASE WHEN n.kind = 'type-owner'
                THEN to_regtype(format('%I.%I', coalesce(n.schema, current_schema(), 'public'), n.name)) END
            WHERE NOT CASE n.kind
                WHEN 'database' THEN has_database_privilege(current_database(), n.privilege)
                WHEN 'schema' THEN s.oid IS NULL OR c.oid IS NOT NULL OR has_schema_privilege(s.oid, n.privilege)
                WHEN 'owner' THEN c.oid IS NULL OR pg_has_role(c.relowner, 'USAGE')
                WHEN 'type-owner' THEN t.oid IS NULL OR pg_has_role(t.typowner, 'USAGE')
                WHEN 'table' THEN c.oid IS NULL OR has_table_privilege(c.oid, n.privilege)
                ELSE true END
            ORDER BY n.i
            """, connection);
        command.Parameters.AddWithValue("needs", AsJson(needs));
        var lines = new List<string>();
        var seen = new HashSet<string>();
        await using var reader = await command.ExecuteReaderAsync(cancel);
        while (await reader.ReadAsync(cancel))
        {
            var need = needs[reader.GetInt32(0) - 1];
            var (role, database, schema) = (reader.GetString(1), reader.GetString(2), reader.GetString(3));
            var what = need.Kind switch
            {
                "database" => $"{need.Privilege} on database {database}",
                "schema" => $"{need.Privilege} on schema {schema}",
                "owner" or "type-owner" => $"ownership of {reader.GetString(5)} {schema}.{need.Name} (owned by {(reader.IsDBNull(4) ? "?" : reader.GetString(4))})",
                _ => $"{need.Privilege} on table {schema}.{need.Name}",
            };
            if (seen.Add(what))
            {
                lines.Add($"role {role} lacks {what}, needed by {need.NeededBy}");
            }
        }

        return lines;
    }

    /// <summary>
    /// The needs as one JSON text (kind, schema, name, privilege each), not four array parameters:
    /// the runner's connection reads and writes scalars only (PostgresProvider.ConnectAsync).
    /// </summary>
    private static string AsJson(IReadOnlyList<Need> needs)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartArray();
            foreach (var need in needs)
            {
                json.WriteStartObject();
                json.WriteString("kind", need.Kind);
                json.WriteString("schema", need.Schema);
                json.WriteString("name", need.Name);
                json.WriteString("privilege", need.Privilege);
                json.WriteEndObject();
            }

            json.WriteEndArray();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}
