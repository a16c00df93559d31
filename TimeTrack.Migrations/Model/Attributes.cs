namespace TimeTrack.Migrations.Model;

// The attributes the entity classes use to describe their table. They are plain data:
// ModelReader (in the runner) turns them into the neutral DatabaseSchema that the
// migrations and live databases are compared against.

/// <summary>The table an entity class maps to.</summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class TableAttribute(string name) : Attribute
{
    public string Name { get; } = name;
}

/// <summary>The column a property maps to. Properties without it are not columns.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class ColumnAttribute(string name) : Attribute
{
    public string Name { get; } = name;
}

/// <summary>The property is (part of) the primary key; the constraint has this name.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class PrimaryKeyAttribute(string constraintName) : Attribute
{
    public string ConstraintName { get; } = constraintName;
}

/// <summary>Database-generated integer id: a serial sequence on PostgreSQL, the rowid on SQLite.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class IdentityAttribute : Attribute;

/// <summary>varchar(length) for a string property; a string without it is text.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class MaxLengthAttribute(int length) : Attribute
{
    public int Length { get; } = length;
}

/// <summary>numeric(precision, scale) for a decimal property.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class PrecisionAttribute(int precision, int scale) : Attribute
{
    public int Precision { get; } = precision;
    public int Scale { get; } = scale;
}

/// <summary>A server-side default: a constant (bool, number, string or enum member).</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class DefaultAttribute(object value) : Attribute
{
    public object Value { get; } = value;
}

/// <summary>A server-side default of the current timestamp (now() / CURRENT_TIMESTAMP).</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class DefaultNowAttribute : Attribute;

/// <summary>What the database does to referencing rows when the referenced row is deleted.</summary>
public enum DeleteRule
{
    NoAction,
    Cascade,
    SetNull,
    Restrict,
}

/// <summary>The property references the primary key of <paramref name="principal"/>.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class ForeignKeyAttribute(string constraintName, Type principal) : Attribute
{
    public string ConstraintName { get; } = constraintName;
    public Type Principal { get; } = principal;
    public DeleteRule OnDelete { get; init; } = DeleteRule.NoAction;
}

/// <summary>A unique constraint over the named properties (nameof them, in order).</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true)]
public sealed class UniqueAttribute(string constraintName, params string[] properties) : Attribute
{
    public string ConstraintName { get; } = constraintName;
    public IReadOnlyList<string> Properties { get; } = properties;
}

/// <summary>A (non-unique) index over the named properties (nameof them, in order).</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true)]
public sealed class IndexAttribute(string name, params string[] properties) : Attribute
{
    public string Name { get; } = name;
    public IReadOnlyList<string> Properties { get; } = properties;
}

/// <summary>
/// An enumeration stored by member name: a native enum type on PostgreSQL, a
/// VARCHAR with a CHECK constraint of this name on SQLite.
/// </summary>
[AttributeUsage(AttributeTargets.Enum)]
public sealed class DbEnumAttribute(string typeName) : Attribute
{
    public string TypeName { get; } = typeName;
}
