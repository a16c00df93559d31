using System.Reflection;
using TimeTrack.Migrations.Model;

namespace TimeTrack.Migrations.Runner.Schema;

/// <summary>
/// Reads the entity classes of TimeTrack.Migrations (the schema at head) into a
/// <see cref="DatabaseSchema"/>: the "desired" side of every comparison.
/// </summary>
public static class ModelReader
{
    /// <summary>The model shipped in TimeTrack.Migrations.</summary>
    public static DatabaseSchema ReadShippedModel() => Read(typeof(Company).Assembly.GetTypes());

    /// <summary>The tables described by the <c>[Table]</c> classes among <paramref name="types"/>.</summary>
    public static DatabaseSchema Read(IEnumerable<Type> types)
    {
        var entities = types.Where(t => t.GetCustomAttribute<TableAttribute>() is not null).ToList();
        var nullability = new NullabilityInfoContext();
        var enums = new SortedDictionary<string, EnumSchema>(StringComparer.Ordinal);

        var tables = entities
            .Select(entity => ReadTable(entity, nullability, enums))
            .OrderBy(t => t.Name, StringComparer.Ordinal)
            .ToList();

        return new DatabaseSchema(tables, enums.Values.ToList(), [], SchemaCapabilities.Full);
    }

    public static string TableName(Type entity) =>
        entity.GetCustomAttribute<TableAttribute>()?.Name
        ?? throw new InvalidOperationException($"{entity.Name} has no [Table] attribute");

    private static TableSchema ReadTable(Type entity, NullabilityInfoContext nullability, IDictionary<string, EnumSchema> enums)
    {
        var table = TableName(entity);
        var properties = entity.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.GetCustomAttribute<ColumnAttribute>() is not null)
            .OrderBy(p => p.MetadataToken) // declaration order = column order
            .ToList();

        string ColumnOf(string propertyName) =>
            properties.FirstOrDefault(p => p.Name == propertyName)?.GetCustomAttribute<ColumnAttribute>()!.Name
            ?? throw new InvalidOperationException($"{entity.Name} names unknown property {propertyName}");

        var columns = properties.Select(p => ReadColumn(p, nullability, enums)).ToList();

        var keyProperties = properties.Where(p => p.GetCustomAttribute<PrimaryKeyAttribute>() is not null).ToList();
        var primaryKey = keyProperties.Count == 0
            ? null
            : new PrimaryKeySchema(
                keyProperties[0].GetCustomAttribute<PrimaryKeyAttribute>()!.ConstraintName,
                keyProperties.Select(p => p.GetCustomAttribute<ColumnAttribute>()!.Name).ToList());

        var foreignKeys = properties
            .Select(p => (Property: p, Fk: p.GetCustomAttribute<ForeignKeyAttribute>()))
            .Where(x => x.Fk is not null)
            .Select(x => new ForeignKeySchema(
                x.Fk!.ConstraintName,
                [x.Property.GetCustomAttribute<ColumnAttribute>()!.Name],
                TableName(x.Fk.Principal),
                PrimaryKeyColumns(x.Fk.Principal),
                ToAction(x.Fk.OnDelete)))
            .OrderBy(f => f.Name, StringComparer.Ordinal)
            .ToList();

        var uniques = entity.GetCustomAttributes<UniqueAttribute>()
            .Select(u => new UniqueConstraintSchema(u.ConstraintName, u.Properties.Select(ColumnOf).ToList()))
            .OrderBy(u => u.Name, StringComparer.Ordinal)
            .ToList();

        var indexes = entity.GetCustomAttributes<IndexAttribute>()
            .Select(i => new IndexSchema(i.Name, i.Properties.Select(p => new IndexKey(ColumnOf(p))).ToList()))
            .OrderBy(i => i.Name, StringComparer.Ordinal)
            .ToList();

        return new TableSchema(table, columns, primaryKey, foreignKeys, uniques, indexes);
    }

    private static ColumnSchema ReadColumn(PropertyInfo property, NullabilityInfoContext nullability, IDictionary<string, EnumSchema> enums)
    {
        var name = property.GetCustomAttribute<ColumnAttribute>()!.Name;
        var clrType = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
        var nullable = Nullable.GetUnderlyingType(property.PropertyType) is not null
            || (!property.PropertyType.IsValueType && nullability.Create(property).WriteState == NullabilityState.Nullable);

        var type = ColumnTypeOf(property, clrType);
        if (clrType.IsEnum)
        {
            enums[type.Name!] = new EnumSchema(type.Name!, Enum.GetNames(clrType));
        }

        string? @default = null;
        if (property.GetCustomAttribute<DefaultNowAttribute>() is not null)
        {
            @default = DefaultValues.CurrentTimestamp;
        }
        else if (property.GetCustomAttribute<DefaultAttribute>() is { } d)
        {
            @default = DefaultValues.FromClrValue(d.Value);
        }

        var identity = property.GetCustomAttribute<IdentityAttribute>() is not null;
        return new ColumnSchema(name, type, nullable, @default, identity);
    }

    private static ColumnType ColumnTypeOf(PropertyInfo property, Type clrType)
    {
        if (clrType.IsEnum)
        {
            var dbEnum = clrType.GetCustomAttribute<DbEnumAttribute>()
                ?? throw new InvalidOperationException($"enum {clrType.Name} used by {property.DeclaringType!.Name}.{property.Name} has no [DbEnum]");
            return ColumnType.EnumOf(dbEnum.TypeName);
        }

        if (clrType == typeof(string))
        {
            return property.GetCustomAttribute<MaxLengthAttribute>() is { } max
                ? ColumnType.Varchar(max.Length)
                : new ColumnType(TypeKind.Text);
        }

        if (clrType == typeof(decimal))
        {
            var precision = property.GetCustomAttribute<PrecisionAttribute>()
                ?? throw new InvalidOperationException($"{property.DeclaringType!.Name}.{property.Name}: a decimal needs [Precision]");
            return ColumnType.Numeric(precision.Precision, precision.Scale);
        }

        return clrType switch
        {
            _ when clrType == typeof(int) => new ColumnType(TypeKind.Integer),
            _ when clrType == typeof(long) => new ColumnType(TypeKind.BigInt),
            _ when clrType == typeof(short) => new ColumnType(TypeKind.SmallInt),
            _ when clrType == typeof(bool) => new ColumnType(TypeKind.Boolean),
            _ when clrType == typeof(DateTime) => new ColumnType(TypeKind.Timestamp),
            _ when clrType == typeof(DateTimeOffset) => new ColumnType(TypeKind.TimestampTz),
            _ when clrType == typeof(DateOnly) => new ColumnType(TypeKind.Date),
            _ => throw new InvalidOperationException($"{property.DeclaringType!.Name}.{property.Name}: no column type for {clrType.Name}"),
        };
    }

    private static IReadOnlyList<string> PrimaryKeyColumns(Type entity) =>
        entity.GetProperties()
            .Where(p => p.GetCustomAttribute<PrimaryKeyAttribute>() is not null)
            .OrderBy(p => p.MetadataToken)
            .Select(p => p.GetCustomAttribute<ColumnAttribute>()!.Name)
            .ToList();

    private static ReferentialAction ToAction(DeleteRule rule) => rule switch
    {
        DeleteRule.Cascade => ReferentialAction.Cascade,
        DeleteRule.SetNull => ReferentialAction.SetNull,
        DeleteRule.Restrict => ReferentialAction.Restrict,
        _ => ReferentialAction.NoAction,
    };
}
