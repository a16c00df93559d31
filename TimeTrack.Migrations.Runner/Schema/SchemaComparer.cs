namespace TimeTrack.Migrations.Runner.Schema;

/// <summary>The changes that turn one schema into another, in an order that can be applied.</summary>
public sealed record SchemaDiff(IReadOnlyList<SchemaChange> Changes)
{
    public bool IsEmpty => Changes.Count == 0;

    /// <summary>The diff that goes back: each change reversed, in reverse order.</summary>
    public SchemaDiff Reverse() => new(Changes.Reverse().Select(c => c.Reverse()).ToList());

    /// <summary>A readable diff, one change a line: + added, - removed, ~ changed.</summary>
    public string Render() => IsEmpty ? "(no differences)" : string.Join(Environment.NewLine, Changes.Select(c => c.Describe()));

    public override string ToString() => Render();
}

/// <summary>
/// Compares two <see cref="DatabaseSchema"/>s. Only what both sources can tell is compared
/// (<see cref="SchemaCapabilities"/>): SQLite keeps no constraint names, so against SQLite keys
/// are matched by their columns alone; how a column is generated (serial or identity, its
/// sequence and the sequence's settings) only between two PostgreSQL catalogs.
/// </summary>
public static class SchemaComparer
{
    /// <summary>The changes that turn <paramref name="from"/> into <paramref name="to"/>.</summary>
    public static SchemaDiff Compare(DatabaseSchema from, DatabaseSchema to)
    {
        var compareNames = from.Capabilities.ConstraintNames && to.Capabilities.ConstraintNames;
        var compareIdentity = from.Capabilities.Identity && to.Capabilities.Identity;
        var compareSequences = from.Capabilities.Sequences && to.Capabilities.Sequences;
        var changes = new List<SchemaChange>();

        // Enum types first: new tables and columns may use them.
        foreach (var wanted in to.Enums)
        {
            var existing = from.Enums.FirstOrDefault(e => e.Name == wanted.Name);
            if (existing is null)
            {
                changes.Add(new AddEnum(wanted));
            }
            else if (!existing.Values.SequenceEqual(wanted.Values))
            {
                changes.Add(new AlterEnum(existing, wanted));
            }
        }

        changes.AddRange(to.Sequences.Except(from.Sequences).Select(s => new AddSequence(s)));

        // New tables in dependency order (a table after the tables its foreign keys reference),
        // dropped ones in the reverse order, so each statement finds what it needs.
        foreach (var wanted in InDependencyOrder(to.Tables))
        {
            if (from.Table(wanted.Name) is { } existing)
            {
                changes.AddRange(CompareTable(existing, wanted, compareNames, compareIdentity, compareSequences));
            }
            else
            {
                changes.Add(new AddTable(wanted));
            }
        }

        changes.AddRange(InDependencyOrder(from.Tables).Reverse().Where(t => to.Table(t.Name) is null).Select(t => new DropTable(t)));
        changes.AddRange(from.Sequences.Except(to.Sequences).Select(s => new DropSequence(s)));
        changes.AddRange(from.Enums.Where(e => to.Enums.All(w => w.Name != e.Name)).Select(e => new DropEnum(e)));
        return new SchemaDiff(changes);
    }

    /// <summary>Referenced tables before the tables that reference them; by name otherwise (and within a cycle).</summary>
    public static IReadOnlyList<TableSchema> InDependencyOrder(IReadOnlyList<TableSchema> tables)
    {
        var ordered = new List<TableSchema>();
        var placed = new HashSet<string>();
        var visiting = new HashSet<string>();

        void Place(TableSchema table)
        {
            if (placed.Contains(table.Name) || !visiting.Add(table.Name))
            {
                return; // done, or a cycle: its foreign keys are added after its tables anyway
            }

            foreach (var referenced in table.ForeignKeys.Select(k => k.ReferencedTable).Distinct().Order(StringComparer.Ordinal))
            {
                if (referenced != table.Name && tables.FirstOrDefault(t => t.Name == referenced) is { } parent)
                {
                    Place(parent);
                }
            }

            visiting.Remove(table.Name);
            if (placed.Add(table.Name))
            {
                ordered.Add(table);
            }
        }

        foreach (var table in tables.OrderBy(t => t.Name, StringComparer.Ordinal))
        {
            Place(table);
        }

        return ordered;
    }

    private static IEnumerable<SchemaChange> CompareTable(TableSchema from, TableSchema to, bool compareNames, bool compareIdentity, bool compareSequences)
    {
        var table = to.Name;

        // Constraints and indexes that go away are dropped before columns change under them.
        foreach (var key in from.ForeignKeys.Where(k => !to.ForeignKeys.Any(w => SameForeignKey(k, w, compareNames))))
        {
            yield return new DropForeignKey(table, key);
        }

        foreach (var unique in from.UniqueConstraints.Where(u => !to.UniqueConstraints.Any(w => SameUnique(u, w, compareNames))))
        {
            yield return new DropUniqueConstraint(table, unique);
        }

        foreach (var index in from.Indexes.Where(i => !to.Indexes.Any(w => SameIndex(i, w))))
        {
            yield return new DropIndex(table, index);
        }

        // CHECK constraints only where both sources read them (PostgreSQL on both sides).
        var compareChecks = from.Checks is not null && to.Checks is not null;
        foreach (var check in compareChecks ? from.Checks!.Except(to.Checks!) : [])
        {
            yield return new DropCheckConstraint(table, check);
        }

        if (from.PrimaryKey is { } oldKey && !SamePrimaryKey(oldKey, to.PrimaryKey, compareNames))
        {
            yield return new DropPrimaryKey(table, oldKey);
        }

        foreach (var wanted in to.Columns)
        {
            var existing = from.Column(wanted.Name);
            if (existing is null)
            {
                yield return new AddColumn(table, wanted);
                continue;
            }

            var comparable = compareIdentity ? existing : existing with { Identity = wanted.Identity };
            if (!compareSequences)
            {
                comparable = comparable with { Generator = wanted.Generator, Sequence = wanted.Sequence }; // one side cannot tell
            }

            if (comparable != wanted)
            {
                yield return new AlterColumn(table, comparable, wanted);
            }
        }

        foreach (var old in from.Columns.Where(c => to.Column(c.Name) is null))
        {
            yield return new DropColumn(table, old);
        }

        if (to.PrimaryKey is { } newKey && !SamePrimaryKey(newKey, from.PrimaryKey, compareNames))
        {
            yield return new AddPrimaryKey(table, newKey);
        }

        foreach (var unique in to.UniqueConstraints.Where(u => !from.UniqueConstraints.Any(e => SameUnique(e, u, compareNames))))
        {
            yield return new AddUniqueConstraint(table, unique);
        }

        foreach (var index in to.Indexes.Where(i => !from.Indexes.Any(e => SameIndex(e, i))))
        {
            yield return new AddIndex(table, index);
        }

        foreach (var check in compareChecks ? to.Checks!.Except(from.Checks!) : [])
        {
            yield return new AddCheckConstraint(table, check);
        }

        foreach (var key in to.ForeignKeys.Where(k => !from.ForeignKeys.Any(e => SameForeignKey(e, k, compareNames))))
        {
            yield return new AddForeignKey(table, key);
        }
    }

    private static bool SamePrimaryKey(PrimaryKeySchema a, PrimaryKeySchema? b, bool compareNames) =>
        b is not null && a.Columns.SequenceEqual(b.Columns) && (!compareNames || a.Name == b.Name);

    private static bool SameForeignKey(ForeignKeySchema a, ForeignKeySchema b, bool compareNames) =>
        a.Columns.SequenceEqual(b.Columns)
        && a.ReferencedTable == b.ReferencedTable
        && a.ReferencedColumns.SequenceEqual(b.ReferencedColumns)
        && a.OnDelete == b.OnDelete
        && (!compareNames || a.Name == b.Name);

    private static bool SameUnique(UniqueConstraintSchema a, UniqueConstraintSchema b, bool compareNames) =>
        a.Columns.SequenceEqual(b.Columns) && (!compareNames || a.Name == b.Name);

    // Index names are real on both databases; an INVALID index is not the index it claims to be.
    // Keys are compared with their sort order (every source can tell it; the model's are ascending)
    // and expressions as the database prints them. Method and predicate are compared when both
    // sources can tell them (both read from PostgreSQL).
    private static bool SameIndex(IndexSchema a, IndexSchema b) =>
        a.Name == b.Name && a.Keys.SequenceEqual(b.Keys) && a.Unique == b.Unique && a.IsValid && b.IsValid
        && (a.Method is null || b.Method is null || (a.Method == b.Method && a.Predicate == b.Predicate));
}
