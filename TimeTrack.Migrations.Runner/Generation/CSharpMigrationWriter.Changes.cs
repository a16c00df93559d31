using TimeTrack.Migrations.Runner.Schema;

namespace TimeTrack.Migrations.Runner.Generation;

// One small method per change kind. Each returns FluentMigrator statements (without the SQLite
// rebuild, which Body() adds for the tables that need it).
public sealed partial class CSharpMigrationWriter
{
    private List<string> Render(SchemaChange change, DatabaseSchema to) => change switch
    {
        AddEnum e => [$"CreateEnumType({CSharpSyntax.Literal(e.Enum.Name)}, {CSharpSyntax.List(e.Enum.Values)});"],
        DropEnum e => [$"DropEnumType({CSharpSyntax.Literal(e.Enum.Name)});"],
        AlterEnum e => AlterEnumType(e, to),
        AddTable t => CreateTable(t.Table),
        DropTable t => [$"Delete.Table({CSharpSyntax.Literal(t.Table.Name)});"],
        AddColumn c => AddColumnTo(c),
        DropColumn c => [$"Delete.Column({CSharpSyntax.Literal(c.Column.Name)}).FromTable({CSharpSyntax.Literal(c.Table)});"],
        AlterColumn c => ChangeColumn(c),
        AddIndex i => _from.Table(i.Table) is null ? CreateIndex(i.Table, i.Index) : CreateIndexConcurrently(i.Table, i.Index),
        DropIndex i => [$"Delete.Index({CSharpSyntax.Literal(i.Index.Name)}).OnTable({CSharpSyntax.Literal(i.Table)});"],
        AddUniqueConstraint u => [CreateUnique(u.Table, u.Constraint)],
        DropUniqueConstraint u => [$"Delete.UniqueConstraint({CSharpSyntax.Literal(u.Constraint.Name)}).FromTable({CSharpSyntax.Literal(u.Table)});"],
        AddForeignKey k => _from.Table(k.Table) is null ? [CreateForeignKey(k.Table, k.Key)] : [AddForeignKeyNotValid(k.Table, k.Key)],
        DropForeignKey k => [$"Delete.ForeignKey({CSharpSyntax.Literal(k.Key.Name)}).OnTable({CSharpSyntax.Literal(k.Table)});"],
        AddPrimaryKey k => [$"Create.PrimaryKey({CSharpSyntax.Literal(k.Key.Name)}).OnTable({CSharpSyntax.Literal(k.Table)}).Columns({CSharpSyntax.Arguments(k.Key.Columns)});"],
        DropPrimaryKey k => [$"Delete.PrimaryKey({CSharpSyntax.Literal(k.Key.Name)}).FromTable({CSharpSyntax.Literal(k.Table)});"],
        AddSequence s => ["if (!IsSqlite)", "{", $"    Create.Sequence({CSharpSyntax.Literal(s.Name)});", "}"],
        DropSequence s => ["if (!IsSqlite)", "{", $"    Delete.Sequence({CSharpSyntax.Literal(s.Name)});", "}"],
        _ => throw new NotSupportedException($"no C# for {change.GetType().Name}"),
    };

    private List<string> AlterEnumType(AlterEnum e, DatabaseSchema to)
    {
        var name = CSharpSyntax.Literal(e.New.Name);
        if (e.OnlyAppends)
        {
            return [$"AddEnumValues({name}, {CSharpSyntax.List(e.New.Values.Skip(e.Old.Values.Count))});"];
        }

        var usages = TablesUsing(to, e.New.Name)
            .SelectMany(t => t.Columns.Where(c => c.Type.Kind == TypeKind.Enum && c.Type.Name == e.New.Name).Select(c => (Table: t.Name, Column: c)))
            .Select(u => $"({CSharpSyntax.Literal(u.Table)}, {CSharpSyntax.Literal(u.Column.Name)}, {(DefaultValues.Unquote(u.Column.Default) is { } d ? CSharpSyntax.Literal(d) : "null")})");
        return [$"ReplaceEnumType({name}, {CSharpSyntax.List(e.New.Values)}{string.Concat(usages.Select(u => ", " + u))});"];
    }

    private List<string> CreateTable(TableSchema table)
    {
        var lines = new List<string> { $"Create.Table({CSharpSyntax.Literal(table.Name)})" };
        lines.AddRange(ColumnChain(table).Select(l => "    " + l));
        lines[^1] += ";";
        lines.AddRange(table.UniqueConstraints.Select(u => CreateUnique(table.Name, u)));
        lines.AddRange(table.Indexes.SelectMany(i => CreateIndex(table.Name, i)));
        foreach (var key in table.ForeignKeys.Where(k => k.Columns.Count > 1))
        {
            Warn(table.Name, $"foreign key {key.Name} has several columns: it is created separately, which SQLite cannot do");
            lines.Add(CreateForeignKey(table.Name, key));
        }

        return lines;
    }

    /// <summary>The .WithColumn(...) chain of a whole table (for Create.Table and the SQLite rebuild).</summary>
    private List<string> ColumnChain(TableSchema table) =>
        table.Columns.Select(column =>
        {
            var text = $".WithColumn({CSharpSyntax.Literal(column.Name)}).AsCustom({SqlType(column, table.Name)}){Nullability(column)}{Default(column, table.Name)}";
            if (table.PrimaryKey is { } key && key.Columns.Contains(column.Name))
            {
                text += $".PrimaryKey({CSharpSyntax.Literal(key.Name)})";
            }

            if (table.ForeignKeys.FirstOrDefault(k => k.Columns.Count == 1 && k.Columns[0] == column.Name) is { } fk)
            {
                text += $".ForeignKey({CSharpSyntax.Literal(fk.Name)}, {CSharpSyntax.Literal(fk.ReferencedTable)}, {CSharpSyntax.Literal(fk.ReferencedColumns[0])}){OnDelete(fk.OnDelete)}";
            }

            return text;
        }).ToList();

    private List<string> AddColumnTo(AddColumn change)
    {
        return [$"Alter.Table({CSharpSyntax.Literal(change.Table)}).AddColumn({CSharpSyntax.Literal(change.Column.Name)}).AsCustom({SqlType(change.Column, change.Table)}){Nullability(change.Column)}{Default(change.Column, change.Table)};"];
    }

    private List<string> ChangeColumn(AlterColumn change)
    {
        var (table, column) = (CSharpSyntax.Literal(change.Table), CSharpSyntax.Literal(change.New.Name));
        var lines = new List<string>();
        if (change.Old.Type != change.New.Type || change.Old.Nullable != change.New.Nullable)
        {
            lines.Add($"Alter.Column({column}).OnTable({table}).AsCustom({SqlType(change.New, change.Table)}){Nullability(change.New)};");
        }

        if (change.Old.Default != change.New.Default)
        {
            lines.Add(change.New.Default is null
                ? $"Delete.DefaultConstraint().OnTable({table}).OnColumn({column});"
                : $"Alter.Column({column}).OnTable({table}).AsCustom({SqlType(change.New, change.Table)}){Nullability(change.New)}{Default(change.New, change.Table)};");
        }

        if (change.Old.Identity != change.New.Identity)
        {
            Warn(change.Table, $"column {change.New.Name} {(change.New.Identity ? "becomes" : "stops being")} an identity: not generated, write it by hand");
            lines.Add($"// REVIEW: {change.Table}.{change.New.Name} {(change.New.Identity ? "becomes" : "stops being")} an identity column: write this by hand.");
        }

        return lines;
    }

    private static string CreateUnique(string table, UniqueConstraintSchema unique) =>
        $"Create.UniqueConstraint({CSharpSyntax.Literal(unique.Name)}).OnTable({CSharpSyntax.Literal(table)}).Columns({CSharpSyntax.Arguments(unique.Columns)});";

    // FluentMigrator's index builder knows columns and their direction. An expression key, a
    // NULLS FIRST/LAST, another access method or a partial index's predicate is not written as SQL
    // here (generated code holds no SQL), nor silently dropped: it is left to a person.
    private List<string> CreateIndex(string table, IndexSchema index)
    {
        if (index.Keys.Any(k => k.Expression || k.NullsFirst is not null) || index.Shape.Length > 0)
        {
            var what = $"index {index.Name} on {table}({string.Join(", ", index.Keys)}){index.Shape} has an expression or NULLS order key, a method or a predicate: not generated, write it by hand";
            Warn(table, what);
            return [$"// REVIEW: {what}."];
        }

        return [$"Create.Index({CSharpSyntax.Literal(index.Name)}).OnTable({CSharpSyntax.Literal(table)})" +
            string.Concat(index.Keys.Select(k => $".OnColumn({CSharpSyntax.Literal(k.Text)}).{(k.Descending ? "Descending" : "Ascending")}()")) +
            (index.Unique ? ".WithOptions().Unique();" : ";")];
    }

    /// <summary>
    /// An index on a table in use: CREATE INDEX CONCURRENTLY through TimeTrackMigration's helper
    /// (the migration is then not in a transaction), as the lint's index-not-concurrent rule asks.
    /// </summary>
    private List<string> CreateIndexConcurrently(string table, IndexSchema index)
    {
        if (index.Keys.Any(k => k.Expression || k.NullsFirst is not null) || index.Shape.Length > 0)
        {
            return CreateIndex(table, index); // the REVIEW line
        }

        _outsideTransaction = true;
        var descending = index.Keys.Where(k => k.Descending).Select(k => k.Text).ToList();
        return [$"CreateIndexConcurrently({CSharpSyntax.Literal(index.Name)}, {CSharpSyntax.Literal(table)}, {CSharpSyntax.List(index.Keys.Select(k => k.Text))}" +
            (descending.Count > 0 ? $", descending: {CSharpSyntax.List(descending)}" : "") + (index.Unique ? ", unique: true" : "") + ");"];
    }

    /// <summary>A foreign key on a table in use: NOT VALID, then VALIDATE (PostgreSQL; SQLite's rebuild has it), as the lint's constraint-not-valid rule asks.</summary>
    private string AddForeignKeyNotValid(string table, ForeignKeySchema key)
    {
        _outsideTransaction = true;
        var onDelete = OnDelete(key.OnDelete);
        return $"AddForeignKeyNotValid({CSharpSyntax.Literal(key.Name)}, {CSharpSyntax.Literal(table)}, {CSharpSyntax.List(key.Columns)}, " +
            $"{CSharpSyntax.Literal(key.ReferencedTable)}, {CSharpSyntax.List(key.ReferencedColumns)}" +
            (onDelete.Length == 0 ? "" : $", {onDelete[".OnDelete(".Length..^1]}") + ");";
    }

    private static string CreateForeignKey(string table, ForeignKeySchema key) =>
        $"Create.ForeignKey({CSharpSyntax.Literal(key.Name)}).FromTable({CSharpSyntax.Literal(table)}).ForeignColumns({CSharpSyntax.Arguments(key.Columns)})" +
        $".ToTable({CSharpSyntax.Literal(key.ReferencedTable)}).PrimaryColumns({CSharpSyntax.Arguments(key.ReferencedColumns)}){OnDelete(key.OnDelete)};";

    private static string OnDelete(ReferentialAction action) => action switch
    {
        ReferentialAction.Cascade => ".OnDelete(System.Data.Rule.Cascade)",
        ReferentialAction.SetNull => ".OnDelete(System.Data.Rule.SetNull)",
        ReferentialAction.SetDefault => ".OnDelete(System.Data.Rule.SetDefault)",
        _ => "",
    };

    private static string Nullability(ColumnSchema column) => column.Nullable ? ".Nullable()" : ".NotNullable()";

    /// <summary>The column's type through SqlTypes, so each database gets its own spelling.</summary>
    private string SqlType(ColumnSchema column, string table) => column.Type.Kind switch
    {
        TypeKind.Integer => column.Identity ? "Sql.Serial" : "Sql.Integer",
        TypeKind.BigInt => column.Identity ? "Sql.BigSerial" : "Sql.BigInt",
        TypeKind.SmallInt => "Sql.SmallInt",
        TypeKind.Boolean => "Sql.Boolean",
        TypeKind.Varchar when column.Type.Length is { } n => $"Sql.Varchar({n})",
        TypeKind.Varchar or TypeKind.Text => "Sql.Text",
        TypeKind.Numeric when column.Type.Precision is { } p => $"Sql.Numeric({p}, {column.Type.Scale ?? 0})",
        TypeKind.Timestamp => "Sql.Timestamp",
        TypeKind.TimestampTz => "Sql.TimestampTz",
        TypeKind.Date => "Sql.Date",
        TypeKind.Enum => $"Sql.Enum({CSharpSyntax.Literal(column.Type.Name!)}, {CSharpSyntax.Literal(column.Name)}, {CSharpSyntax.List(_enumValues(column.Type.Name!))})",
        _ => OtherType(column, table),
    };

    private string OtherType(ColumnSchema column, string table)
    {
        Warn(table, $"column {column.Name} has type {column.Type}, which this tool does not model: written as is for both databases");
        return CSharpSyntax.Literal(column.Type.Name ?? column.Type.ToString());
    }

    private string Default(ColumnSchema column, string table)
    {
        if (column.Default is not { } value)
        {
            return "";
        }

        if (value == DefaultValues.CurrentTimestamp)
        {
            return ".WithDefault(Sql.Now)";
        }

        if (value is "true" or "false")
        {
            return $".WithDefaultValue({value})";
        }

        if (DefaultValues.Unquote(value) is { } text)
        {
            return $".WithDefaultValue({CSharpSyntax.Literal(text)})";
        }

        if (decimal.TryParse(value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out _))
        {
            return $".WithDefaultValue({CSharpSyntax.Number(value)})";
        }

        Warn(table, $"column {column.Name} defaults to the expression {value}: written as raw SQL, check it works on both databases");
        return $".WithDefaultValue(RawSql.Insert({CSharpSyntax.Literal(value)}))";
    }
}
