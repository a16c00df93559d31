using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Npgsql;
using TimeTrack.Migrations.Runner.Output;

namespace TimeTrack.Migrations.Runner.Databases.Postgres;

/// <summary>
/// `restore` on PostgreSQL, all or nothing: pg_restore writes the backup as an SQL script
/// (pg_restore --file=-), which psql runs in ONE transaction that also empties the database first
/// (--force). pg_restore --single-transaction cannot do that: its transaction is its own, so the
/// schema would have to be dropped in another, committed one, and a restore failing after it (a
/// truncated file, a missing extension, a schema that exists) left the database empty. The
/// transaction is opened and committed by us, not by psql --single-transaction: psql commits at
/// the end of its input, and a runner killed mid-way ends that input too; a COMMIT that is never
/// written cannot be taken.
/// </summary>
internal static partial class PostgresRestore
{
    public const string PsqlVariable = "TIMETRACK_PSQL";

    /// <summary>The schemas the migrations create objects in: the only ones a backup of ours holds objects of.</summary>
    public static readonly IReadOnlySet<string> BackupSchemas = new HashSet<string>(StringComparer.Ordinal) { "public" };

    public static async Task RunAsync(PostgresDatabase database, string file, bool replace, bool force,
        IReadOnlyDictionary<string, string?> environment, CancellationToken cancel)
    {
        var server = database.Connection.PostgreSqlVersion.Major;
        var pgRestore = PostgresClientTools.Find("pg_restore", PostgresClientTools.PgRestoreVariable, environment, server);
        var psql = PostgresClientTools.Find("psql", PsqlVariable, environment, server);
        var libpq = PostgresClientTools.Environment(database.Target);

        // The table of contents, read before anything changes: a file pg_restore cannot read, and
        // a backup that creates objects elsewhere than ours do, leave the database as it was.
        var (listCode, list, listError) = await PostgresClientTools.RunAsync(pgRestore, ["--list", file], libpq, cancel);
        if (listCode != 0)
        {
            throw UserError.Invalid($"{file} is not a backup pg_restore can read, so nothing was changed: {PostgresClientTools.LastLines(listError + list)}");
        }

        var foreign = ForeignSchemas(list);
        if (foreign.Count > 0 && !force)
        {
            throw new UserError(ExitCode.Refused,
                $"{file} creates objects in schema {string.Join(", ", foreign.Select(s => $"'{s}'"))}, where the migrations keep nothing (they keep everything in " +
                $"{string.Join(", ", BackupSchemas)}): it is not a backup taken by timetrack-migrate, and a restore runs whatever a backup holds. " +
                "Nothing was changed. Restore only backups you trust; to restore this one anyway, pass --force");
        }

        // psql runs meta-commands (\! runs a shell command): pg_restore fences the script with
        // \restrict and a key the file cannot know (15.14, 16.10, 17.6 and later); an older one
        // would let a crafted file run commands on this machine.
        var (_, help, _) = await PostgresClientTools.RunAsync(pgRestore, ["--help"], libpq, cancel);
        if (!help.Contains("--restrict-key", StringComparison.Ordinal))
        {
            throw new BackupException(
                $"{pgRestore} has no --restrict-key, which restoring through psql needs to be safe: install a PostgreSQL client of 15.14, 16.10, 17.6 or newer " +
                $"(Debian/Ubuntu: postgresql-client-{server}). Nothing was changed");
        }

        // PostgreSQL 15's public schema: owned by the database owner, usable by everybody.
        var recreate = server >= 14
            ? "CREATE SCHEMA public AUTHORIZATION pg_database_owner; GRANT USAGE ON SCHEMA public TO PUBLIC;"
            : "CREATE SCHEMA public; GRANT ALL ON SCHEMA public TO PUBLIC;";
        // A psql killed mid-statement: its session notices at once and rolls back. SET LOCAL, not a
        // startup parameter (PgBouncer refuses "options"), and nothing left to the pool's next client.
        var checkConnection = server >= 14 ? "SET LOCAL client_connection_check_interval = 1000;\n" : "";
        // --role: the restore runs as the role, so what it creates is the role's (--no-owner), and nothing of it outlives the transaction.
        var role = database.Target.SetRoleStatement(local: true) is { } r ? r + ";\n" : "";
        var empty = replace && !await OwnsPublicSchemaAsync(database, cancel) ? DropOwnedObjectsOfPublic : $"DROP SCHEMA IF EXISTS public CASCADE;\n{recreate}\n";
        var prelude = "BEGIN;\nSET LOCAL client_min_messages = warning;\n" + checkConnection + role + (replace ? empty : "");

        // The database as a conninfo string: a name with '=' in it is not taken for one.
        var name = new NpgsqlConnectionStringBuilder(database.Target.ConnectionString).Database!;
        var conninfo = $"dbname='{name.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal)}'";
        var key = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
        var (restoreCode, restoreError, psqlCode, psqlError) = await PostgresClientTools.PipeAsync(
            pgRestore, ["--no-owner", "--exit-on-error", $"--restrict-key={key}", "--file=-", file],
            psql, ["--no-psqlrc", "--quiet", "--no-password", "--set=ON_ERROR_STOP=1", $"--dbname={conninfo}", "--file=-"],
            prelude, "COMMIT;\n", libpq, cancel);
        if (restoreCode is not (0 or null))
        {
            throw new BackupException($"pg_restore could not read all of {file} (exit {restoreCode}): {PostgresClientTools.LastLines(restoreError)}. " +
                                      "The restore was rolled back: nothing was changed");
        }

        if (psqlCode != 0)
        {
            throw new BackupException($"the restore failed and was rolled back, so nothing was changed: {PostgresClientTools.LastLines(psqlError)}");
        }
    }

    /// <summary>
    /// False for a role that owns the schema's objects but not the schema (the migrating role of
    /// deploy/roles.sql; public belongs to the database's owner): it may not drop and recreate it.
    /// </summary>
    private static async Task<bool> OwnsPublicSchemaAsync(PostgresDatabase database, CancellationToken cancel)
    {
        await using var command = new NpgsqlCommand("SELECT coalesce((SELECT pg_has_role(nspowner, 'USAGE') FROM pg_namespace WHERE nspname = 'public'), true)", database.Connection);
        return (bool)(await command.ExecuteScalarAsync(cancel))!;
    }

    /// <summary>
    /// Emptying public without dropping it: each relation, type and routine in it, which the role
    /// must own (one it does not own fails the restore, rolled back). Sequences owned by a column,
    /// row types and multiranges go with their table or range; IF EXISTS because CASCADE may have dropped them already.
    /// </summary>
    private const string DropOwnedObjectsOfPublic = """
        DO $$
        DECLARE statement text;
        BEGIN
          FOR statement IN
            SELECT format('DROP %s IF EXISTS public.%I CASCADE',
                          CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END, c.relname)
            FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
            UNION ALL
            SELECT format('DROP TYPE IF EXISTS public.%I CASCADE', t.typname)
            FROM pg_type t WHERE t.typnamespace = 'public'::regnamespace AND t.typtype IN ('e', 'd', 'r')
            UNION ALL
            SELECT format('DROP ROUTINE IF EXISTS %s CASCADE', p.oid::regprocedure)
            FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace
          LOOP
            EXECUTE statement;
          END LOOP;
        END $$;

        """;

    /// <summary>
    /// The schemas other than <see cref="BackupSchemas"/> that `pg_restore --list` says the backup
    /// creates, or creates objects in. A line is "ID; TABLEOID OID TYPE SCHEMA NAME OWNER", its
    /// type one word or several ("TABLE DATA"), its schema "-" for objects outside any (a schema,
    /// an extension).
    /// </summary>
    public static IReadOnlyList<string> ForeignSchemas(string list)
    {
        var foreign = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var raw in list.Split('\n'))
        {
            var match = TocEntry().Match(raw.TrimEnd('\r'));
            if (!match.Success)
            {
                continue; // a comment (";"), a blank line
            }

            var rest = match.Groups["rest"].Value;
            var type = MultiWordTypes.FirstOrDefault(t => rest.StartsWith(t + " ", StringComparison.Ordinal)) ?? rest.Split(' ')[0];
            var words = rest[Math.Min(rest.Length, type.Length + 1)..].Split(' ');
            if (type == "SCHEMA")
            {
                // "SCHEMA - name owner"
                if (words.Length != 3 || !BackupSchemas.Contains(words[1]))
                {
                    foreign.Add(words.Length > 2 ? string.Join(' ', words[1..^1]) : words[^1]);
                }
            }
            else if (words[0] != "-" && !BackupSchemas.Contains(words[0]))
            {
                foreign.Add(words[0]);
            }
        }

        return [.. foreign];
    }

    /// <summary>pg_dump's entry types of more than one word, longest first (pg_dump.c, pg_backup_archiver.c).</summary>
    private static readonly string[] MultiWordTypes =
    [
        "PUBLICATION TABLES IN SCHEMA", "TEXT SEARCH CONFIGURATION", "TEXT SEARCH DICTIONARY", "MATERIALIZED VIEW DATA",
        "TEXT SEARCH TEMPLATE", "FOREIGN DATA WRAPPER", "PROCEDURAL LANGUAGE", "DATABASE PROPERTIES", "TEXT SEARCH PARSER",
        "SUBSCRIPTION TABLE", "MATERIALIZED VIEW", "PUBLICATION TABLE", "SEQUENCE OWNED BY", "CHECK CONSTRAINT", "OPERATOR FAMILY",
        "STATISTICS DATA", "OPERATOR CLASS", "SECURITY LABEL", "FOREIGN SERVER", "ACCESS METHOD", "BLOB METADATA", "EVENT TRIGGER",
        "FK CONSTRAINT", "FOREIGN TABLE", "LARGE OBJECTS", "INDEX ATTACH", "LARGE OBJECT", "ROW SECURITY", "SEQUENCE SET",
        "TABLE ATTACH", "USER MAPPING", "DEFAULT ACL", "SHELL TYPE", "TABLE DATA",
    ];

    [GeneratedRegex(@"^\d+;\s+\d+\s+\d+\s+(?<rest>\S.*)$")]
    private static partial Regex TocEntry();
}
