using System.Reflection;
using System.Text.RegularExpressions;
using FluentMigrator;
using FluentMigrator.Expressions;
using FluentMigrator.Model;
using TimeTrack.Migrations.Migrations;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Runner.Running;
using TimeTrack.Migrations.Runner.Schema;

namespace TimeTrack.Migrations.Runner.Lint;

/// <summary>
/// The lint of unsafe PostgreSQL changes: each migration's Up, as FluentMigrator expressions built
/// for PostgreSQL (<see cref="StepExecutor.Expressions"/>, no connection), checked against the
/// schema before it — the previous release's, built by the step executor's scratch mode on SQLite
/// (<see cref="StepExecutor.BuildExpectedSchemasAsync"/>, no server). A table missing from that
/// schema is new in the migration (empty), so nothing on it can lock anyone out.
/// The rules are listed in <see cref="LintRules"/>; squawk adds what it knows of the rendered SQL.
/// </summary>
public static partial class MigrationLinter
{
    public static int RuleCount => LintRules.All.Count;

    /// <param name="squawk">The squawk binary to run on each migration's SQL; null for our rules only.</param>
    /// <param name="workingDirectory">Where the run is: source paths from the PDB are made relative to its repository.</param>
    public static async Task<IReadOnlyList<LintFinding>> LintAsync(MigrationCatalog catalog, string? squawk, string workingDirectory, CancellationToken cancel)
    {
        var migrations = catalog.Migrations.Where(m => m.Type is not null).ToList();
        if (migrations.Count == 0)
        {
            return [];
        }

        var sqlite = DatabaseProvider.For(DatabaseKind.Sqlite);
        var schemas = (await StepExecutor.BuildExpectedSchemasAsync(sqlite, live: null, catalog, catalog.Head, cancel)).ToDictionary(s => s.Version, s => s.Schema);
        var postgres = DatabaseProvider.For(DatabaseKind.Postgres);
        using var renderer = StepExecutor.ForRendering(postgres, catalog);
        using var sources = new SourceLocations(workingDirectory);
        var findings = new List<LintFinding>();
        var before = sqlite.EmptySchema;
        foreach (var migration in migrations)
        {
            cancel.ThrowIfCancellationRequested();
            var after = schemas[migration.Version];
            var step = new PlannedStep(migration, Running.Direction.Up);
            var own = Check(renderer.Expressions(step), before, after).ToList();
            var all = own.Concat(squawk is null ? [] : Squawk.Check(squawk, migration, renderer.Render(step)));
            var type = migration.Type!;
            var allows = type.GetCustomAttributes<AllowLintAttribute>().ToList();
            if (allows.FirstOrDefault(a => !LintRules.All.Any(r => r.Id == a.RuleId) && !a.RuleId.StartsWith(Squawk.Prefix, StringComparison.Ordinal)) is { } unknown)
            {
                throw Output.UserError.Invalid($"[AllowLint(\"{unknown.RuleId}\", ...)] on {type.Name} names no lint rule: ours are {string.Join(", ", LintRules.All.Select(r => r.Id))}, squawk's are squawk/RULE");
            }

            if (allows.FirstOrDefault(a => string.IsNullOrWhiteSpace(a.Reason)) is { } unexplained)
            {
                throw Output.UserError.Invalid($"[AllowLint(\"{unexplained.RuleId}\", ...)] on {type.Name} gives no reason: say why the change is safe there");
            }

            var (file, line) = sources.Find(type);
            findings.AddRange(all.Select(f => Finish(f, migration, allows, file, line)));
            before = after;
        }

        return findings;
    }

    private static LintFinding Finish(Finding f, KnownMigration migration, List<AllowLintAttribute> allows, string? file, int line)
    {
        var allow = allows.FirstOrDefault(a => a.RuleId == f.Rule.Id);
        return new LintFinding(f.Rule.Id, f.Rule.Explanation, f.Rule.SafeAlternative, migration.Version, migration.Type!.Name, f.Subject,
            allow?.Reason, file, line);
    }

    /// <summary>A rule that fired, on what.</summary>
    internal sealed record Finding(LintRule Rule, string Subject);

    /// <summary>Our rules over one migration's expressions; <paramref name="before"/> is the previous release's schema, <paramref name="after"/> this one's.</summary>
    internal static IEnumerable<Finding> Check(IReadOnlyList<IMigrationExpression> expressions, DatabaseSchema before, DatabaseSchema after)
    {
        bool Existing(string? table) => table is not null && before.Table(table) is not null;
        var rawSql = expressions.OfType<ExecuteSqlStatementExpression>().Select(e => e.SqlStatement).ToList();

        foreach (var expression in expressions)
        {
            switch (expression)
            {
                case CreateIndexExpression index when Existing(index.Index.TableName):
                    yield return new(LintRules.IndexNotConcurrent, $"index {index.Index.Name} on {index.Index.TableName}");
                    break;

                case CreateColumnExpression add when Existing(add.TableName):
                    var column = add.Column;
                    var hasDefault = column.DefaultValue is not ColumnDefinition.UndefinedDefaultValue and not null;
                    if (column.IsNullable == false && !hasDefault && !column.IsIdentity && !IsSerial(column))
                    {
                        yield return new(LintRules.NotNullWithoutDefault, $"column {add.TableName}.{column.Name}");
                    }

                    if (IsVolatile(column))
                    {
                        yield return new(LintRules.VolatileDefault, $"column {add.TableName}.{column.Name}");
                    }

                    // A .ForeignKey(...) on the column comes as its own CreateForeignKeyExpression (below).

                    break;

                case AlterColumnExpression alter when before.Table(alter.TableName)?.Column(alter.Column.Name) is { } old:
                    // The column as the expression leaves it, judged by the schema engine's own AlterColumn (ChangeRisk).
                    var type = TypeOf(alter.Column) ?? old.Type;
                    var changed = new AlterColumn(alter.TableName, old, old with { Type = type, Nullable = alter.Column.IsNullable ?? old.Nullable });
                    if (SameKind(old.Type, type) is false && changed.Risk.HasFlag(ChangeRisk.RewritesTable))
                    {
                        yield return new(LintRules.TypeChangeRewrites, $"column {alter.TableName}.{alter.Column.Name}: {old.Type} -> {type}");
                    }

                    if (old.Nullable && alter.Column.IsNullable == false && !ValidatesNotNullCheck(rawSql, alter.Column.Name))
                    {
                        yield return new(LintRules.SetNotNull, $"column {alter.TableName}.{alter.Column.Name}");
                    }

                    break;

                case CreateForeignKeyExpression key when Existing(key.ForeignKey.ForeignTable):
                    yield return new(LintRules.ConstraintNotValid, $"foreign key {key.ForeignKey.Name} on {key.ForeignKey.ForeignTable}");
                    break;

                case DeleteTableExpression drop when Existing(drop.TableName):
                    yield return new(LintRules.DropStillUsed, $"table {drop.TableName}");
                    break;

                case DeleteColumnExpression drop when Existing(drop.TableName):
                    foreach (var name in drop.ColumnNames.Where(n => before.Table(drop.TableName)!.Column(n) is not null))
                    {
                        yield return new(LintRules.DropStillUsed, $"column {drop.TableName}.{name}");
                    }

                    break;

                case RenameTableExpression rename when Existing(rename.OldName):
                    yield return new(LintRules.RenameStillUsed, $"table {rename.OldName} -> {rename.NewName}");
                    break;

                case RenameColumnExpression rename when before.Table(rename.TableName)?.Column(rename.OldName) is not null:
                    yield return new(LintRules.RenameStillUsed, $"column {rename.TableName}.{rename.OldName} -> {rename.NewName}");
                    break;

                case ExecuteSqlStatementExpression sql:
                    foreach (var finding in CheckSql(sql.SqlStatement, Existing))
                    {
                        yield return finding;
                    }

                    break;
            }
        }

        // Enum types change through Execute.Sql (ReplaceEnumType creates the type again with its new
        // values, on PostgreSQL only): that statement, or the schemas, show what was lost.
        var replaced = rawSql.SelectMany(s => CreateEnumSql().Matches(s))
            .Select(m => new EnumSchema(m.Groups["type"].Value, m.Groups["value"].Captures.Select(c => c.Value.Replace("''", "'", StringComparison.Ordinal)).ToList()));
        var reported = new HashSet<string>();
        foreach (var now in replaced.Concat(after.Enums))
        {
            if (before.Enums.FirstOrDefault(e => e.Name == now.Name) is { } old && old.Values.Except(now.Values).ToList() is { Count: > 0 } gone && reported.Add(now.Name))
            {
                yield return new(LintRules.EnumValueRemoved, $"enum {old.Name}: {string.Join(", ", gone)} removed or renamed");
            }
        }
    }

    /// <summary>
    /// Raw statements, for what only our rules know (the table is an existing one). squawk reads
    /// the same statements for everything else.
    /// </summary>
    private static IEnumerable<Finding> CheckSql(string sql, Func<string?, bool> existing)
    {
        foreach (Match index in CreateIndexSql().Matches(sql))
        {
            if (!index.Groups["concurrently"].Success && existing(index.Groups["table"].Value))
            {
                yield return new(LintRules.IndexNotConcurrent, $"index {index.Groups["name"].Value} on {index.Groups["table"].Value}");
            }
        }

        foreach (Match constraint in AddConstraintSql().Matches(sql))
        {
            if (!constraint.Groups["notvalid"].Success && existing(constraint.Groups["table"].Value))
            {
                yield return new(LintRules.ConstraintNotValid, $"constraint {constraint.Groups["name"].Value} on {constraint.Groups["table"].Value}");
            }
        }

        foreach (Match rename in RenameEnumValueSql().Matches(sql))
        {
            yield return new(LintRules.EnumValueRemoved, $"enum {rename.Groups["type"].Value}: a value renamed");
        }
    }

    /// <summary>The type an Alter.Column gives, in the schema's terms; null when it is not one this tool models.</summary>
    internal static ColumnType? TypeOf(ColumnDefinition column)
    {
        var spelled = (column.CustomType ?? column.Type switch
        {
            System.Data.DbType.Int32 => "integer",
            System.Data.DbType.Int64 => "bigint",
            System.Data.DbType.Int16 => "smallint",
            System.Data.DbType.Boolean => "boolean",
            System.Data.DbType.String or System.Data.DbType.AnsiString => column.Size is { } n ? $"varchar({n})" : "text",
            System.Data.DbType.Decimal => column.Size is { } p ? $"numeric({p},{column.Precision ?? 0})" : "numeric",
            System.Data.DbType.DateTime or System.Data.DbType.DateTime2 => "timestamp",
            System.Data.DbType.DateTimeOffset => "timestamptz",
            System.Data.DbType.Date => "date",
            _ => null,
        })?.Trim().ToLowerInvariant();
        if (spelled is null)
        {
            return null;
        }

        var match = TypeSql().Match(spelled);
        if (!match.Success)
        {
            return new ColumnType(TypeKind.Other, Name: spelled);
        }

        int? Number(string group) => match.Groups[group].Success ? int.Parse(match.Groups[group].Value, System.Globalization.CultureInfo.InvariantCulture) : null;
        return match.Groups["name"].Value switch
        {
            "integer" or "int" or "int4" or "serial" => new ColumnType(TypeKind.Integer),
            "bigint" or "int8" or "bigserial" => new ColumnType(TypeKind.BigInt),
            "smallint" or "int2" => new ColumnType(TypeKind.SmallInt),
            "boolean" or "bool" => new ColumnType(TypeKind.Boolean),
            "text" => new ColumnType(TypeKind.Text),
            "varchar" or "character varying" => ColumnType.Varchar(Number("a")),
            "numeric" or "decimal" => ColumnType.Numeric(Number("a"), Number("b")),
            "timestamp" or "timestamp without time zone" or "datetime" => new ColumnType(TypeKind.Timestamp),
            "timestamptz" or "timestamp with time zone" => new ColumnType(TypeKind.TimestampTz),
            "date" => new ColumnType(TypeKind.Date),
            var other => new ColumnType(TypeKind.Other, Name: other),
        };
    }

    /// <summary>False when the types differ; null when one of them is not modelled (an enum, say: no finding on a guess).</summary>
    private static bool? SameKind(ColumnType old, ColumnType now) =>
        old.Kind is TypeKind.Other or TypeKind.Enum || now.Kind is TypeKind.Other or TypeKind.Enum ? (old == now ? true : null) : old == now;

    [GeneratedRegex(@"^(?<name>[a-z][a-z ]*?)\s*(?:\(\s*(?<a>\d+)\s*(?:,\s*(?<b>\d+)\s*)?\))?$")]
    private static partial Regex TypeSql();

    private static bool IsSerial(ColumnDefinition column) =>
        column.CustomType is { } type && type.Trim().ToLowerInvariant() is "serial" or "bigserial" or "smallserial" or "serial4" or "serial8" or "serial2";

    private static readonly string[] VolatileFunctions = ["nextval(", "random(", "gen_random_uuid(", "uuid_generate_v", "clock_timestamp(", "timeofday("];

    private static bool IsVolatile(ColumnDefinition column) =>
        column.IsIdentity || IsSerial(column)
        || column.DefaultValue is SystemMethods.NewGuid or SystemMethods.NewSequentialId
        || (column.DefaultValue switch { RawSql raw => raw.Value, string text => text, _ => null }) is { } sql
            && VolatileFunctions.Any(f => sql.Contains(f, StringComparison.OrdinalIgnoreCase));

    /// <summary>A CHECK (col IS NOT NULL) validated in the same migration: SET NOT NULL then uses it and does not scan.</summary>
    private static bool ValidatesNotNullCheck(IReadOnlyList<string> rawSql, string column) =>
        rawSql.Any(s => s.Contains("VALIDATE CONSTRAINT", StringComparison.OrdinalIgnoreCase))
        && rawSql.Any(s => Regex.IsMatch(s, $@"CHECK\s*\(\s*""?{Regex.Escape(column)}""?\s+IS\s+NOT\s+NULL", RegexOptions.IgnoreCase));

    [GeneratedRegex(@"\bCREATE\s+(?:UNIQUE\s+)?INDEX\s+(?<concurrently>CONCURRENTLY\s+)?(?:IF\s+NOT\s+EXISTS\s+)?""?(?<name>\w+)""?\s+ON\s+(?:ONLY\s+)?""?(?:\w+""?\.""?)?(?<table>\w+)""?", RegexOptions.IgnoreCase)]
    private static partial Regex CreateIndexSql();

    [GeneratedRegex(@"\bALTER\s+TABLE\s+(?:ONLY\s+)?(?:IF\s+EXISTS\s+)?""?(?:\w+""?\.""?)?(?<table>\w+)""?\s+ADD\s+CONSTRAINT\s+""?(?<name>\w+)""?\s+(?:FOREIGN\s+KEY|CHECK)\b[^;]*?(?<notvalid>\bNOT\s+VALID\b)?\s*;?\s*$", RegexOptions.IgnoreCase | RegexOptions.Singleline)]
    private static partial Regex AddConstraintSql();

    [GeneratedRegex(@"\bCREATE\s+TYPE\s+""?(?<type>\w+)""?\s+AS\s+ENUM\s*\(\s*(?:'(?<value>(?:[^']|'')*)'\s*,?\s*)*\)", RegexOptions.IgnoreCase)]
    private static partial Regex CreateEnumSql();

    [GeneratedRegex(@"\bALTER\s+TYPE\s+""?(?<type>\w+)""?\s+RENAME\s+VALUE\b", RegexOptions.IgnoreCase)]
    private static partial Regex RenameEnumValueSql();
}
