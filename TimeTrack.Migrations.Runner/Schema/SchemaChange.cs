namespace TimeTrack.Migrations.Runner.Schema;

/// <summary>
/// One difference between two schemas, written as the change that turns the first into the
/// second. Each change carries the state it replaces, so it can be reversed (Down) without guessing.
/// </summary>
public abstract record SchemaChange
{
    /// <summary>True when applying the change can lose data.</summary>
    public virtual bool Destructive => false;

    /// <summary>The table the change is on; null for enum types and sequences.</summary>
    public abstract string? TableName { get; }

    /// <summary>The change that undoes this one.</summary>
    public abstract SchemaChange Reverse();

    /// <summary>One line for a person: "+ column users.nickname varchar(40) null".</summary>
    public abstract string Describe();

    internal static string Columns(IReadOnlyList<string> columns) => "(" + string.Join(", ", columns) + ")";

    internal static string Describe(ColumnSchema c) =>
        $"{c.Type}{(c.Nullable ? " null" : " not null")}{(c.Default is null ? "" : " default " + c.Default)}{(c.Identity ? " identity" : "")}";
}

public sealed record AddTable(TableSchema Table) : SchemaChange
{
    public override string TableName => Table.Name;
    public override SchemaChange Reverse() => new DropTable(Table);
    public override string Describe() => $"+ table {Table.Name} ({Table.Columns.Count} columns)";
}

public sealed record DropTable(TableSchema Table) : SchemaChange
{
    public override bool Destructive => true;
    public override string TableName => Table.Name;
    public override SchemaChange Reverse() => new AddTable(Table);
    public override string Describe() => $"- table {Table.Name}";
}

public sealed record AddColumn(string Table, ColumnSchema Column) : SchemaChange
{
    public override string TableName => Table;
    public override SchemaChange Reverse() => new DropColumn(Table, Column);
    public override string Describe() => $"+ column {Table}.{Column.Name} {Describe(Column)}";
}

public sealed record DropColumn(string Table, ColumnSchema Column) : SchemaChange
{
    public override bool Destructive => true;
    public override string TableName => Table;
    public override SchemaChange Reverse() => new AddColumn(Table, Column);
    public override string Describe() => $"- column {Table}.{Column.Name} {Describe(Column)}";
}

public sealed record AlterColumn(string Table, ColumnSchema Old, ColumnSchema New) : SchemaChange
{
    // Narrowing a type or forbidding nulls can fail or truncate on existing rows.
    public override bool Destructive => Old.Type != New.Type || (Old.Nullable && !New.Nullable);
    public override string TableName => Table;
    public override SchemaChange Reverse() => new AlterColumn(Table, New, Old);

    public override string Describe()
    {
        var parts = new List<string>();
        if (Old.Type != New.Type)
        {
            parts.Add($"type {Old.Type} -> {New.Type}");
        }

        if (Old.Nullable != New.Nullable)
        {
            parts.Add(New.Nullable ? "not null -> null" : "null -> not null");
        }

        if (Old.Default != New.Default)
        {
            parts.Add($"default {Old.Default ?? "none"} -> {New.Default ?? "none"}");
        }

        if (Old.Identity != New.Identity)
        {
            parts.Add(New.Identity ? "becomes identity" : "no longer identity");
        }

        return $"~ column {Table}.{New.Name}: {string.Join(", ", parts)}";
    }
}

public sealed record AddPrimaryKey(string Table, PrimaryKeySchema Key) : SchemaChange
{
    public override string TableName => Table;
    public override SchemaChange Reverse() => new DropPrimaryKey(Table, Key);
    public override string Describe() => $"+ primary key {Key.Name} on {Table}{Columns(Key.Columns)}";
}

public sealed record DropPrimaryKey(string Table, PrimaryKeySchema Key) : SchemaChange
{
    public override string TableName => Table;
    public override SchemaChange Reverse() => new AddPrimaryKey(Table, Key);
    public override string Describe() => $"- primary key {Key.Name} on {Table}{Columns(Key.Columns)}";
}

public sealed record AddForeignKey(string Table, ForeignKeySchema Key) : SchemaChange
{
    public override string TableName => Table;
    public override SchemaChange Reverse() => new DropForeignKey(Table, Key);
    public override string Describe() => $"+ foreign key {Key.Name} {Table}{Columns(Key.Columns)} -> {Key.ReferencedTable}{Columns(Key.ReferencedColumns)} on delete {Key.OnDelete}";
}

public sealed record DropForeignKey(string Table, ForeignKeySchema Key) : SchemaChange
{
    public override string TableName => Table;
    public override SchemaChange Reverse() => new AddForeignKey(Table, Key);
    public override string Describe() => $"- foreign key {Key.Name} {Table}{Columns(Key.Columns)} -> {Key.ReferencedTable}{Columns(Key.ReferencedColumns)} on delete {Key.OnDelete}";
}

public sealed record AddUniqueConstraint(string Table, UniqueConstraintSchema Constraint) : SchemaChange
{
    public override string TableName => Table;
    public override SchemaChange Reverse() => new DropUniqueConstraint(Table, Constraint);
    public override string Describe() => $"+ unique {Constraint.Name} on {Table}{Columns(Constraint.Columns)}";
}

public sealed record DropUniqueConstraint(string Table, UniqueConstraintSchema Constraint) : SchemaChange
{
    public override string TableName => Table;
    public override SchemaChange Reverse() => new AddUniqueConstraint(Table, Constraint);
    public override string Describe() => $"- unique {Constraint.Name} on {Table}{Columns(Constraint.Columns)}";
}

public sealed record AddCheckConstraint(string Table, CheckConstraintSchema Check) : SchemaChange
{
    public override string TableName => Table;
    public override SchemaChange Reverse() => new DropCheckConstraint(Table, Check);
    public override string Describe() => $"+ check {Check.Name} on {Table}: {Check.Expression}";
}

public sealed record DropCheckConstraint(string Table, CheckConstraintSchema Check) : SchemaChange
{
    public override string TableName => Table;
    public override SchemaChange Reverse() => new AddCheckConstraint(Table, Check);
    public override string Describe() => $"- check {Check.Name} on {Table}: {Check.Expression}";
}

public sealed record AddIndex(string Table, IndexSchema Index) : SchemaChange
{
    public override string TableName => Table;
    public override SchemaChange Reverse() => new DropIndex(Table, Index);
    public override string Describe() => $"+ {(Index.Unique ? "unique " : "")}index {Index.Name} on {Table}{Columns(Index.Columns)}";
}

public sealed record DropIndex(string Table, IndexSchema Index) : SchemaChange
{
    public override string TableName => Table;
    public override SchemaChange Reverse() => new AddIndex(Table, Index);
    public override string Describe() =>
        $"- {(Index.Unique ? "unique " : "")}index {Index.Name} on {Table}{Columns(Index.Columns)}{(Index.IsValid ? "" : " (INVALID)")}";
}

public sealed record AddEnum(EnumSchema Enum) : SchemaChange
{
    public override string? TableName => null;
    public override SchemaChange Reverse() => new DropEnum(Enum);
    public override string Describe() => $"+ enum {Enum.Name} ({string.Join(", ", Enum.Values)})";
}

public sealed record DropEnum(EnumSchema Enum) : SchemaChange
{
    public override bool Destructive => true;
    public override string? TableName => null;
    public override SchemaChange Reverse() => new AddEnum(Enum);
    public override string Describe() => $"- enum {Enum.Name} ({string.Join(", ", Enum.Values)})";
}

public sealed record AlterEnum(EnumSchema Old, EnumSchema New) : SchemaChange
{
    public override bool Destructive => Old.Values.Except(New.Values).Any();
    public override string? TableName => null;
    public override SchemaChange Reverse() => new AlterEnum(New, Old);
    public override string Describe() => $"~ enum {New.Name}: ({string.Join(", ", Old.Values)}) -> ({string.Join(", ", New.Values)})";
}

public sealed record AddSequence(string Name) : SchemaChange
{
    public override string? TableName => null;
    public override SchemaChange Reverse() => new DropSequence(Name);
    public override string Describe() => $"+ sequence {Name}";
}

public sealed record DropSequence(string Name) : SchemaChange
{
    public override string? TableName => null;
    public override SchemaChange Reverse() => new AddSequence(Name);
    public override string Describe() => $"- sequence {Name}";
}
