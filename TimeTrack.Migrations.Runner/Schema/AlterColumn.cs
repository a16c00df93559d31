namespace TimeTrack.Migrations.Runner.Schema;

/// <summary>A column that exists on both sides but differs: each difference is worded as what it is.</summary>
public sealed record AlterColumn(string Table, ColumnSchema Old, ColumnSchema New) : SchemaChange
{
    public override ChangeAction Action => ChangeAction.Alter;
    public override string Subject => $"column {Table}.{New.Name}";
    public override string TableName => Table;
    public override SchemaChange Reverse() => new AlterColumn(Table, New, Old);

    public override IReadOnlyList<string> Details
    {
        get
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

            // A serial's nextval() is its default, and a lost one is worded as a lost default:
            // inserts without an id fail, exactly as with any other removed default.
            var (oldDefault, newDefault) = (Old.EffectiveDefault, New.EffectiveDefault);
            if (oldDefault != newDefault)
            {
                parts.Add(oldDefault is null ? $"default was set to {newDefault} (had none)"
                    : newDefault is null ? $"default was removed (was {oldDefault})"
                    : $"default changed from {oldDefault} to {newDefault}");
            }

            var (oldKind, newKind) = (Old.IdentityKind, New.IdentityKind);
            if (oldKind != newKind)
            {
                parts.Add(oldKind is null ? $"became {newKind}" : newKind is null ? $"no longer {oldKind}" : $"{oldKind} -> {newKind}");
            }
            else if (Old.Identity != New.Identity && Old.Generator is null && New.Generator is null)
            {
                parts.Add(New.Identity ? "becomes identity" : "no longer identity"); // all a source without Generator can say
            }

            parts.AddRange(SequenceDetails());
            return parts;
        }
    }

    /// <summary>The sequence behind the column; its name only where the default above has not named it (identity).</summary>
    private IEnumerable<string> SequenceDetails()
    {
        if (Old.Sequence is not { } old || New.Sequence is not { } now || old == now)
        {
            yield break;
        }

        if (old.Name != now.Name && Old.EffectiveDefault == New.EffectiveDefault)
        {
            yield return $"sequence {old.Name} -> {now.Name}";
        }

        if (old.OwnedByColumn != now.OwnedByColumn)
        {
            yield return now.OwnedByColumn
                ? $"sequence {now.Name} is now OWNED BY {Table}.{New.Name}"
                : $"sequence {now.Name} is no longer OWNED BY {Table}.{New.Name}";
        }

        foreach (var (setting, from, to) in new[]
                 {
                     ("type", old.DataType, now.DataType),
                     ("increment", Text(old.Increment), Text(now.Increment)),
                     ("start", Text(old.Start), Text(now.Start)),
                     ("min", Text(old.Min), Text(now.Min)),
                     ("max", Text(old.Max), Text(now.Max)),
                     ("cycle", old.Cycle ? "yes" : "no", now.Cycle ? "yes" : "no"),
                 })
        {
            if (from != to)
            {
                yield return $"sequence {setting} {from} -> {to}";
            }
        }
    }

    private static string Text(long value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public override ChangeRisk Risk =>
        (Old.Type != New.Type ? TypeChangeRisk(Old.Type, New.Type) : ChangeRisk.None)
        // SET NOT NULL scans the whole table under ACCESS EXCLUSIVE, and fails on a null.
        | (Old.Nullable && !New.Nullable ? ChangeRisk.FailsOnExistingRows | ChangeRisk.LongLock : ChangeRisk.None);

    // PostgreSQL changes a type in place, without a rewrite or a scan, only when the old values are
    // valid as they are: a longer varchar (or text), a numeric with more precision and the same scale.
    private static ChangeRisk TypeChangeRisk(ColumnType from, ColumnType to)
    {
        var widens = (from.Kind, to.Kind) switch
        {
            (TypeKind.Varchar, TypeKind.Varchar) => to.Length is null || (from.Length is { } a && to.Length >= a),
            (TypeKind.Varchar, TypeKind.Text) => true,
            (TypeKind.Numeric, TypeKind.Numeric) => to.Precision is null || (from.Precision is { } p && to.Precision >= p && to.Scale == from.Scale),
            _ => false,
        };
        if (widens)
        {
            return ChangeRisk.None;
        }

        var loses = (from.Kind, to.Kind) switch
        {
            (TypeKind.Numeric, TypeKind.Numeric) => (to.Scale ?? 0) < (from.Scale ?? 0) || from.Precision is null, // rounds
            (TypeKind.Numeric, TypeKind.Integer or TypeKind.BigInt or TypeKind.SmallInt) => true,        // rounds
            (TypeKind.TimestampTz, TypeKind.Timestamp or TypeKind.Date) or (TypeKind.Timestamp, TypeKind.Date) => true, // drops the offset or the time
            _ => false,
        };
        return ChangeRisk.RewritesTable | ChangeRisk.LongLock | ChangeRisk.FailsOnExistingRows | (loses ? ChangeRisk.LosesData : ChangeRisk.None);
    }
}
