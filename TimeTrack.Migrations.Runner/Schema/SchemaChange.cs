namespace TimeTrack.Migrations.Runner.Schema;

/// <summary>Whether a change creates, removes or alters its object; the renderings follow from it.</summary>
public enum ChangeAction
{
    Add,
    Drop,
    Alter,
}

/// <summary>
/// One difference between two schemas, written as the change that turns the first into the
/// second. Each change carries the state it replaces, so it can be reversed (Down) without guessing.
/// </summary>
/// <remarks>
/// Each kind says what it is in one place — its <see cref="Subject"/>, <see cref="Details"/> and
/// <see cref="Risk"/> — and every reader renders from those: `check` and the generated code's REVIEW
/// lines through <see cref="Describe"/>, drift checks, adoption refusals and their warnings through
/// <see cref="DescribeAsDrift"/>, and the lint through <see cref="Risk"/>.
/// </remarks>
public abstract record SchemaChange
{
    public abstract ChangeAction Action { get; }

    /// <summary>The object, with what tells it apart from others: "column users.nickname", "index ix on t(a, b DESC)".</summary>
    public abstract string Subject { get; }

    /// <summary>
    /// For an added or dropped object, the rest of its definition ("varchar(40) null"); for an
    /// altered one, each difference worded as what it is ("default changed from 0 to 5").
    /// </summary>
    public virtual IReadOnlyList<string> Details => [];

    /// <summary>What can go wrong applying it to a database in use.</summary>
    public virtual ChangeRisk Risk => ChangeRisk.None;

    /// <summary>The table the change is on; null for enum types and sequences.</summary>
    public abstract string? TableName { get; }

    /// <summary>The change that undoes this one.</summary>
    public abstract SchemaChange Reverse();

    /// <summary>
    /// One line for a diff, the change to make: "+ column users.nickname varchar(40) null",
    /// "~ column projects.start_date: null -> not null".
    /// </summary>
    public string Describe() => Action switch
    {
        ChangeAction.Add => "+ " + Subject + (Details.Count == 0 ? "" : " " + string.Join(" ", Details)),
        ChangeAction.Drop => "- " + Subject + (Details.Count == 0 ? "" : " " + string.Join(" ", Details)),
        _ => $"~ {Subject}: {string.Join(", ", Details)}",
    };

    /// <summary>
    /// One line about a live database that differs from the schema it should have, this change
    /// being the one that would bring it there: what it lacks ("missing table user_preferences"),
    /// what it has besides ("extra column users.hack (text null)"), or what was changed in it
    /// ("changed column teams.id: default was removed (was nextval('teams_id_seq'))") — the
    /// reversed change, so "from" is the schema the migrations made and "to" the database.
    /// </summary>
    public string DescribeAsDrift()
    {
        var definition = Details.Count == 0 ? "" : $" ({string.Join(", ", Details)})";
        switch (Action)
        {
            case ChangeAction.Add:
                return "missing " + Subject + definition;
            case ChangeAction.Drop:
                return "extra " + Subject + definition;
            default:
                var made = Reverse();
                return $"changed {made.Subject}: {string.Join(", ", made.Details)}";
        }
    }

    internal static string Columns(IEnumerable<object> columns) => "(" + string.Join(", ", columns) + ")";

    internal static string Definition(ColumnSchema c) =>
        $"{c.Type}{(c.Nullable ? " null" : " not null")}{(c.EffectiveDefault is { } d ? " default " + d : "")}{(c.IdentityKind is { } i ? " " + i : c.Identity && c.EffectiveDefault is null ? " identity" : "")}";
}

public sealed record AddTable(TableSchema Table) : SchemaChange
{
    public override ChangeAction Action => ChangeAction.Add;
    public override string Subject => $"table {Table.Name}";
    public override string TableName => Table.Name;
    public override SchemaChange Reverse() => new DropTable(Table);
}

public sealed record DropTable(TableSchema Table) : SchemaChange
{
    public override ChangeAction Action => ChangeAction.Drop;
    public override string Subject => $"table {Table.Name}";
    public override ChangeRisk Risk => ChangeRisk.LosesData;
    public override string TableName => Table.Name;
    public override SchemaChange Reverse() => new AddTable(Table);
}

public sealed record AddColumn(string Table, ColumnSchema Column) : SchemaChange
{
    public override ChangeAction Action => ChangeAction.Add;
    public override string Subject => $"column {Table}.{Column.Name}";
    public override IReadOnlyList<string> Details => [Definition(Column)];

    // A NOT NULL column needs a value for the rows already there. A constant default is stored in
    // the catalog (PostgreSQL 11+), but a serial's nextval() is volatile: every row is written.
    public override ChangeRisk Risk =>
        (!Column.Nullable && Column.EffectiveDefault is null && !Column.Identity ? ChangeRisk.FailsOnExistingRows : ChangeRisk.None)
        | (Column.Identity ? ChangeRisk.RewritesTable | ChangeRisk.LongLock : ChangeRisk.None);

    public override string TableName => Table;
    public override SchemaChange Reverse() => new DropColumn(Table, Column);
}

public sealed record DropColumn(string Table, ColumnSchema Column) : SchemaChange
{
    public override ChangeAction Action => ChangeAction.Drop;
    public override string Subject => $"column {Table}.{Column.Name}";
    public override IReadOnlyList<string> Details => [Definition(Column)];
    public override ChangeRisk Risk => ChangeRisk.LosesData;
    public override string TableName => Table;
    public override SchemaChange Reverse() => new AddColumn(Table, Column);
}

public sealed record AddPrimaryKey(string Table, PrimaryKeySchema Key) : SchemaChange
{
    public override ChangeAction Action => ChangeAction.Add;
    public override string Subject => $"primary key {Key.Name} on {Table}{Columns(Key.Columns)}";

    // Builds its unique index under ACCESS EXCLUSIVE, and fails on duplicates or nulls.
    public override ChangeRisk Risk => ChangeRisk.FailsOnExistingRows | ChangeRisk.LongLock;
    public override string TableName => Table;
    public override SchemaChange Reverse() => new DropPrimaryKey(Table, Key);
}

public sealed record DropPrimaryKey(string Table, PrimaryKeySchema Key) : SchemaChange
{
    public override ChangeAction Action => ChangeAction.Drop;
    public override string Subject => $"primary key {Key.Name} on {Table}{Columns(Key.Columns)}";
    public override string TableName => Table;
    public override SchemaChange Reverse() => new AddPrimaryKey(Table, Key);
}

public sealed record AddForeignKey(string Table, ForeignKeySchema Key) : SchemaChange
{
    public override ChangeAction Action => ChangeAction.Add;
    public override string Subject => $"foreign key {Key.Name} {Table}{Columns(Key.Columns)} -> {Key.ReferencedTable}{Columns(Key.ReferencedColumns)}";
    public override IReadOnlyList<string> Details => [$"on delete {Key.OnDelete}"];

    // Validates every row while holding SHARE ROW EXCLUSIVE on both tables (no NOT VALID here).
    public override ChangeRisk Risk => ChangeRisk.FailsOnExistingRows | ChangeRisk.LongLock;
    public override string TableName => Table;
    public override SchemaChange Reverse() => new DropForeignKey(Table, Key);
}

public sealed record DropForeignKey(string Table, ForeignKeySchema Key) : SchemaChange
{
    public override ChangeAction Action => ChangeAction.Drop;
    public override string Subject => $"foreign key {Key.Name} {Table}{Columns(Key.Columns)} -> {Key.ReferencedTable}{Columns(Key.ReferencedColumns)}";
    public override IReadOnlyList<string> Details => [$"on delete {Key.OnDelete}"];
    public override string TableName => Table;
    public override SchemaChange Reverse() => new AddForeignKey(Table, Key);
}

public sealed record AddUniqueConstraint(string Table, UniqueConstraintSchema Constraint) : SchemaChange
{
    public override ChangeAction Action => ChangeAction.Add;
    public override string Subject => $"unique constraint {Constraint.Name} on {Table}{Columns(Constraint.Columns)}";

    // Builds its index under ACCESS EXCLUSIVE, and fails on duplicates.
    public override ChangeRisk Risk => ChangeRisk.FailsOnExistingRows | ChangeRisk.LongLock;
    public override string TableName => Table;
    public override SchemaChange Reverse() => new DropUniqueConstraint(Table, Constraint);
}

public sealed record DropUniqueConstraint(string Table, UniqueConstraintSchema Constraint) : SchemaChange
{
    public override ChangeAction Action => ChangeAction.Drop;
    public override string Subject => $"unique constraint {Constraint.Name} on {Table}{Columns(Constraint.Columns)}";
    public override string TableName => Table;
    public override SchemaChange Reverse() => new AddUniqueConstraint(Table, Constraint);
}

public sealed record AddCheckConstraint(string Table, CheckConstraintSchema Check) : SchemaChange
{
    public override ChangeAction Action => ChangeAction.Add;
    public override string Subject => $"check constraint {Check.Name} on {Table}";
    public override IReadOnlyList<string> Details => [Check.Expression];

    // Scans every row under ACCESS EXCLUSIVE (no NOT VALID here).
    public override ChangeRisk Risk => ChangeRisk.FailsOnExistingRows | ChangeRisk.LongLock;
    public override string TableName => Table;
    public override SchemaChange Reverse() => new DropCheckConstraint(Table, Check);
}

public sealed record DropCheckConstraint(string Table, CheckConstraintSchema Check) : SchemaChange
{
    public override ChangeAction Action => ChangeAction.Drop;
    public override string Subject => $"check constraint {Check.Name} on {Table}";
    public override IReadOnlyList<string> Details => [Check.Expression];
    public override string TableName => Table;
    public override SchemaChange Reverse() => new AddCheckConstraint(Table, Check);
}

public sealed record AddIndex(string Table, IndexSchema Index) : SchemaChange
{
    public override ChangeAction Action => ChangeAction.Add;
    public override string Subject => IndexSubject(Table, Index);
    public override IReadOnlyList<string> Details => Index.IsValid ? [] : ["INVALID"];

    // CREATE INDEX without CONCURRENTLY holds SHARE: no writes until it is built.
    public override ChangeRisk Risk => ChangeRisk.LongLock | (Index.Unique ? ChangeRisk.FailsOnExistingRows : ChangeRisk.None);
    public override string TableName => Table;
    public override SchemaChange Reverse() => new DropIndex(Table, Index);

    internal static string IndexSubject(string table, IndexSchema index) =>
        $"{(index.Unique ? "unique " : "")}index {index.Name} on {table}{Columns(index.Keys)}{index.Shape}";
}

public sealed record DropIndex(string Table, IndexSchema Index) : SchemaChange
{
    public override ChangeAction Action => ChangeAction.Drop;
    public override string Subject => AddIndex.IndexSubject(Table, Index);
    public override IReadOnlyList<string> Details => Index.IsValid ? [] : ["INVALID"];
    public override string TableName => Table;
    public override SchemaChange Reverse() => new AddIndex(Table, Index);
}

public sealed record AddEnum(EnumSchema Enum) : SchemaChange
{
    public override ChangeAction Action => ChangeAction.Add;
    public override string Subject => $"enum {Enum.Name} ({string.Join(", ", Enum.Values)})";
    public override string? TableName => null;
    public override SchemaChange Reverse() => new DropEnum(Enum);
}

public sealed record DropEnum(EnumSchema Enum) : SchemaChange
{
    // No rows hold the type any more (their columns are dropped or changed first): nothing is lost.
    public override ChangeAction Action => ChangeAction.Drop;
    public override string Subject => $"enum {Enum.Name} ({string.Join(", ", Enum.Values)})";
    public override string? TableName => null;
    public override SchemaChange Reverse() => new AddEnum(Enum);
}

public sealed record AlterEnum(EnumSchema Old, EnumSchema New) : SchemaChange
{
    public override ChangeAction Action => ChangeAction.Alter;
    public override string Subject => $"enum {New.Name}";
    public override IReadOnlyList<string> Details => [$"({string.Join(", ", Old.Values)}) -> ({string.Join(", ", New.Values)})"];

    /// <summary>Values only appended: ALTER TYPE ... ADD VALUE. Anything else replaces the type and converts the columns using it.</summary>
    public bool OnlyAppends => New.Values.Count > Old.Values.Count && New.Values.Take(Old.Values.Count).SequenceEqual(Old.Values);

    public override ChangeRisk Risk =>
        OnlyAppends ? ChangeRisk.UsableAfterCommit
        : ChangeRisk.RewritesTable | ChangeRisk.LongLock
          | (Old.Values.Except(New.Values).Any() ? ChangeRisk.LosesData | ChangeRisk.FailsOnExistingRows : ChangeRisk.None);

    public override string? TableName => null;
    public override SchemaChange Reverse() => new AlterEnum(New, Old);
}

public sealed record AddSequence(string Name) : SchemaChange
{
    public override ChangeAction Action => ChangeAction.Add;
    public override string Subject => $"sequence {Name}";
    public override string? TableName => null;
    public override SchemaChange Reverse() => new DropSequence(Name);
}

public sealed record DropSequence(string Name) : SchemaChange
{
    // Its position is state: a re-created sequence starts over and hands out numbers again.
    public override ChangeAction Action => ChangeAction.Drop;
    public override string Subject => $"sequence {Name}";
    public override ChangeRisk Risk => ChangeRisk.LosesData;
    public override string? TableName => null;
    public override SchemaChange Reverse() => new AddSequence(Name);
}
