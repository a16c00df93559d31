using TimeTrack.Migrations.Runner.Schema;

namespace TimeTrack.Migrations.Tests.Schema;

public sealed class SchemaComparerTests
{
    private static readonly DatabaseSchema Model = ModelReader.ReadShippedModel();

    [Fact]
    public void A_schema_compared_with_itself_has_no_differences()
    {
        SchemaComparer.Compare(Model, Model).IsEmpty.ShouldBeTrue();
        SchemaComparer.Compare(Model with { Capabilities = SchemaCapabilities.Sqlite }, Model).IsEmpty.ShouldBeTrue();
    }

    [Fact]
    public void Column_changes_are_reported_with_their_old_state()
    {
        var changed = WithTable(Model, "users", t => t with
        {
            Columns = t.Columns.Select(c => c.Name switch
            {
                "email" => c with { Type = ColumnType.Varchar(200), Nullable = true },
                _ => c,
            }).Where(c => c.Name != "two_factor_secret").Append(new ColumnSchema("nickname", ColumnType.Varchar(40), true)).ToList(),
        });

        var diff = SchemaComparer.Compare(Model, changed);

        diff.Render().ShouldBe(string.Join(Environment.NewLine,
            "~ column users.email: type varchar(120) -> varchar(200), not null -> null",
            "+ column users.nickname varchar(40) null",
            "- column users.two_factor_secret varchar(32) null"));
        diff.Changes.OfType<DropColumn>().Single().Risk.ShouldBe(ChangeRisk.LosesData);
        SchemaComparer.Compare(changed, Model).Render().ShouldBe(string.Join(Environment.NewLine,
            "~ column users.email: type varchar(200) -> varchar(120), null -> not null",
            "+ column users.two_factor_secret varchar(32) null",
            "- column users.nickname varchar(40) null"));
    }

    [Fact]
    public void Enum_values_indexes_foreign_key_rules_and_tables_are_compared()
    {
        var changed = Model with
        {
            Enums = Model.Enums.Select(e => e.Name == "taskpriority" ? e with { Values = [.. e.Values, "BLOCKER"] } : e).ToList(),
            Tables = Model.Tables.Where(t => t.Name != "system_settings").Select(t => t.Name switch
            {
                "time_entries" => t with { Indexes = [] },
                "user_preferences" => t with { ForeignKeys = t.ForeignKeys.Select(f => f with { OnDelete = ReferentialAction.NoAction }).ToList() },
                _ => t,
            }).ToList(),
        };

        var lines = SchemaComparer.Compare(Model, changed).Changes.Select(c => c.Describe()).ToList();

        lines.ShouldContain("~ enum taskpriority: (LOW, MEDIUM, HIGH, URGENT) -> (LOW, MEDIUM, HIGH, URGENT, BLOCKER)");
        lines.ShouldContain("- index ix_time_entries_user_arrival on time_entries(user_id, arrival_time)");
        lines.ShouldContain("- table system_settings");
        lines.ShouldContain(l => l.StartsWith("- foreign key user_preferences_user_id_fkey", StringComparison.Ordinal) && l.EndsWith("Cascade", StringComparison.Ordinal));
        lines.ShouldContain(l => l.StartsWith("+ foreign key user_preferences_user_id_fkey", StringComparison.Ordinal) && l.EndsWith("NoAction", StringComparison.Ordinal));
    }

    [Fact]
    public void Constraint_names_count_only_where_both_sides_keep_them()
    {
        var renamed = WithTable(Model, "users", t => t with { UniqueConstraints = t.UniqueConstraints.Select(u => u with { Name = u.Name + "_x" }).ToList() });

        SchemaComparer.Compare(Model, renamed).Changes.Count.ShouldBe(4);
        SchemaComparer.Compare(Model with { Capabilities = SchemaCapabilities.Sqlite }, renamed).IsEmpty.ShouldBeTrue();
    }

    [Fact]
    public void Reversing_a_diff_gives_the_way_back()
    {
        var changed = WithTable(Model, "tasks", t => t with { Columns = t.Columns.Where(c => c.Name != "priority").ToList() });
        var diff = SchemaComparer.Compare(Model, changed);

        diff.Reverse().Render().ShouldBe(SchemaComparer.Compare(changed, Model).Render());
    }

    [Theory]
    [InlineData("'ISO'::character varying", TypeKind.Varchar, "'ISO'")]
    [InlineData("'TODO'::public.taskstatus", TypeKind.Enum, "'TODO'")]
    [InlineData("now()", TypeKind.Timestamp, DefaultValues.CurrentTimestamp)]
    [InlineData("(CURRENT_TIMESTAMP)", TypeKind.Timestamp, DefaultValues.CurrentTimestamp)]
    [InlineData("datetime('now','localtime')", TypeKind.Timestamp, "datetime('now','localtime')")]
    [InlineData("(0)", TypeKind.Boolean, "false")]
    [InlineData("1", TypeKind.Boolean, "true")]
    [InlineData("8.00", TypeKind.Numeric, "8")]
    [InlineData("'8'::numeric", TypeKind.Numeric, "'8'")]
    [InlineData("'O''Brien'", TypeKind.Text, "'O''Brien'")]
    public void Default_spellings_of_both_databases_normalise_to_one(string raw, TypeKind kind, string expected) =>
        DefaultValues.Normalize(raw, new ColumnType(kind)).ShouldBe(expected);

    private static DatabaseSchema WithTable(DatabaseSchema schema, string table, Func<TableSchema, TableSchema> change) =>
        schema with { Tables = schema.Tables.Select(t => t.Name == table ? change(t) : t).ToList() };
}
