namespace TimeTrack.Migrations.Migrations;

/// <summary>
/// Column types as each database spells them. FluentMigrator's own SQLite type map turns
/// booleans into INTEGER and drops varchar lengths, which would make a SQLite database built
/// by the migrations differ from one built by the old application; so migrations name their
/// types through this class and pass them to <c>AsCustom</c>.
/// </summary>
public sealed class SqlTypes
{
    public static readonly SqlTypes Postgres = new(sqlite: false);
    public static readonly SqlTypes Sqlite = new(sqlite: true);

    private readonly bool _sqlite;

    private SqlTypes(bool sqlite) => _sqlite = sqlite;

    /// <summary>An auto-numbered integer id: serial (with its {table}_{column}_seq) / the SQLite rowid.</summary>
    public string Serial => _sqlite ? "INTEGER" : "serial";
    /// <summary>A 64-bit auto-numbered id: bigserial / the SQLite rowid.</summary>
    public string BigSerial => _sqlite ? "INTEGER" : "bigserial";
    public string Integer => _sqlite ? "INTEGER" : "integer";
    public string BigInt => _sqlite ? "BIGINT" : "bigint";
    public string SmallInt => _sqlite ? "SMALLINT" : "smallint";
    public string Boolean => _sqlite ? "BOOLEAN" : "boolean";
    public string Text => _sqlite ? "TEXT" : "text";
    public string Timestamp => _sqlite ? "DATETIME" : "timestamp";
    public string TimestampTz => _sqlite ? "TIMESTAMP" : "timestamptz";
    public string Date => _sqlite ? "DATE" : "date";
    /// <summary>
    /// The current timestamp as a column default. FluentMigrator's CurrentDateTime is
    /// datetime('now','localtime') on SQLite (local time); the old application stored UTC
    /// CURRENT_TIMESTAMP there, and now() on PostgreSQL.
    /// </summary>
    public FluentMigrator.SystemMethods Now => _sqlite ? FluentMigrator.SystemMethods.CurrentUTCDateTime : FluentMigrator.SystemMethods.CurrentDateTime;

    public string Varchar(int length) => _sqlite ? $"VARCHAR({length})" : $"varchar({length})";
    public string Numeric(int precision, int scale) => _sqlite ? $"NUMERIC({precision}, {scale})" : $"numeric({precision},{scale})";

    /// <summary>
    /// An enumeration column: the native type on PostgreSQL; on SQLite a VARCHAR as long as the
    /// longest value with a CHECK constraint named after the type (as the old application made them).
    /// </summary>
    public string Enum(string typeName, string column, IReadOnlyList<string> values) =>
        _sqlite
            ? $"VARCHAR({values.Max(v => v.Length)}) CONSTRAINT {QuoteIdentifier(typeName)} CHECK ({QuoteIdentifier(column)} IN ({QuoteLiterals(values)}))"
            : QuoteIdentifier(typeName);

    public static string QuoteIdentifier(string name) => "\"" + name.Replace("\"", "\"\"") + "\"";

    public static string QuoteLiteral(string value) => "'" + value.Replace("'", "''") + "'";

    public static string QuoteLiterals(IEnumerable<string> values) => string.Join(", ", values.Select(QuoteLiteral));
}
