using TimeTrack.Migrations.Runner.Generation;
using TimeTrack.Migrations.Runner.Schema;

namespace TimeTrack.Migrations.Tests.Generation;

/// <summary>One change in, exact C# out.</summary>
public sealed class CSharpMigrationWriterTests
{
    private static readonly DatabaseSchema Model = ModelReader.ReadShippedModel();

    private static string[] BodyOf(string code, string method)
    {
        var lines = code.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        var start = lines.FindIndex(l => l.Contains($"public override void {method}()", StringComparison.Ordinal)) + 2;
        var end = lines.FindIndex(start, l => l == "    }");
        return lines[start..end].Select(l => l.Trim()).ToArray();
    }

    [Fact]
    public void An_added_column_is_one_alter_table_and_its_down_drops_it()
    {
        var changed = Model with
        {
            Tables = Model.Tables.Select(t => t.Name == "users"
                ? t with { Columns = [.. t.Columns, new ColumnSchema("nickname", ColumnType.Varchar(40), false, "'anon'")] }
                : t).ToList(),
        };

        var code = CSharpMigrationWriter.Write(new MigrationSpec(202611251200, "Add nickname"), Model, changed).Code;

        code.ShouldContain("[Migration(202611251200, \"Add nickname\")]");
        code.ShouldContain("public sealed class M202611251200_AddNickname : TimeTrackMigration");
        BodyOf(code, "Up").ShouldBe(["Alter.Table(\"users\").AddColumn(\"nickname\").AsCustom(Sql.Varchar(40)).NotNullable().WithDefaultValue(\"anon\");"]);
        BodyOf(code, "Down").ShouldBe([
            "// REVIEW: - column users.nickname varchar(40) not null default 'anon': loses data that Down cannot bring back",
            "Delete.Column(\"nickname\").FromTable(\"users\");",
        ]);
    }

    [Fact]
    public void A_changed_column_is_altered_on_postgresql_and_rebuilt_on_sqlite()
    {
        var changed = Model with
        {
            Tables = Model.Tables.Select(t => t.Name == "teams"
                ? t with { Columns = t.Columns.Select(c => c.Name == "description" ? c with { Type = ColumnType.Varchar(500) } : c).ToList() }
                : t).ToList(),
        };

        var up = BodyOf(CSharpMigrationWriter.Write(new MigrationSpec(1, "Longer descriptions"), Model, changed).Code, "Up");

        up.ShouldContain("RebuildSqliteTable(\"teams\", [\"id\", \"company_id\", \"name\", \"description\", \"created_at\"], table => table");
        up.ShouldContain(".WithColumn(\"description\").AsCustom(Sql.Varchar(500)).Nullable()");
        up.ShouldContain("Create.UniqueConstraint(\"teams_company_id_name_key\").OnTable(\"teams\").Columns(\"company_id\", \"name\");");
        up.ShouldContain("if (!IsSqlite)");
        up.ShouldContain("Alter.Column(\"description\").OnTable(\"teams\").AsCustom(Sql.Varchar(500)).Nullable();");
    }

    [Fact]
    public void A_drop_and_an_add_of_the_same_type_are_flagged_as_a_possible_rename()
    {
        var changed = Model with
        {
            Tables = Model.Tables.Select(t => t.Name == "users"
                ? t with { Columns = t.Columns.Select(c => c.Name == "two_factor_secret" ? c with { Name = "totp_secret" } : c).ToList() }
                : t).ToList(),
        };

        var generated = CSharpMigrationWriter.Write(new MigrationSpec(1, "Rename secret"), Model, changed);

        generated.Code.ShouldContain("// REVIEW: users.two_factor_secret is dropped and users.totp_secret added with the same type");
        generated.Code.ShouldContain("Rename.Column(\"two_factor_secret\").OnTable(\"users\").To(\"totp_secret\")");
        generated.Warnings.ShouldContain(w => w.Contains("if this is a rename", StringComparison.Ordinal));
    }

    [Fact]
    public void Risky_changes_get_a_review_line_from_their_risk_flags()
    {
        var changed = Model with
        {
            Tables = Model.Tables.Select(t => t.Name == "users"
                ? t with { Columns = [.. t.Columns, new ColumnSchema("badge", ColumnType.Varchar(20), false)] }
                : t).ToList(),
        };

        var generated = CSharpMigrationWriter.Write(new MigrationSpec(1, "Badge"), Model, changed);

        BodyOf(generated.Code, "Up")[0].ShouldBe("// REVIEW: + column users.badge varchar(20) not null: fails if existing rows do not fit");
        generated.Warnings.ShouldContain("Up: + column users.badge varchar(20) not null: fails if existing rows do not fit");
        generated.Warnings.ShouldContain("Down: - column users.badge varchar(20) not null: loses data that Down cannot bring back");
    }

    [Fact]
    public void Index_keys_keep_their_direction_and_an_expression_key_or_a_predicate_is_left_to_a_person()
    {
        var changed = Model with
        {
            Tables = Model.Tables.Select(t => t.Name == "tasks"
                ? t with
                {
                    Indexes =
                    [
                        .. t.Indexes,
                        new IndexSchema("ix_tasks_due", ["project_id", new IndexKey("due_date", Descending: true)]),
                        new IndexSchema("ix_tasks_title_lower", [new IndexKey("lower(name)", Expression: true)]),
                        new IndexSchema("ix_tasks_open", ["due_date"], Method: "btree", Predicate: "(status <> 'DONE'::taskstatus)"),
                    ],
                }
                : t).ToList(),
        };

        var generated = CSharpMigrationWriter.Write(new MigrationSpec(1, "Task indexes"), Model, changed);

        var up = BodyOf(generated.Code, "Up");
        // tasks is in use: CREATE INDEX CONCURRENTLY, so the migration is not in a transaction (the lint's index-not-concurrent).
        up.ShouldContain("CreateIndexConcurrently(\"ix_tasks_due\", \"tasks\", [\"project_id\", \"due_date\"], descending: [\"due_date\"]);");
        generated.Code.ShouldContain("[Migration(1, TransactionBehavior.None, \"Task indexes\")]");
        up.ShouldContain("// REVIEW: index ix_tasks_title_lower on tasks(lower(name)) has an expression or NULLS order key, a method or a predicate: not generated, write it by hand.");
        generated.Warnings.ShouldContain(w => w.Contains("ix_tasks_title_lower", StringComparison.Ordinal));
        up.ShouldContain(l => l.StartsWith("// REVIEW: index ix_tasks_open on tasks(due_date) where (status <> 'DONE'::taskstatus) has", StringComparison.Ordinal));
    }

    [Fact]
    public void A_foreign_key_on_a_table_in_use_is_added_not_valid_then_validated_outside_a_transaction()
    {
        var changed = Model with
        {
            Tables = Model.Tables.Select(t => t.Name == "users"
                ? t with
                {
                    Columns = [.. t.Columns, new ColumnSchema("manager_id", new ColumnType(TypeKind.Integer), true)],
                    ForeignKeys = [.. t.ForeignKeys, new ForeignKeySchema("users_manager_id_fkey", ["manager_id"], "users", ["id"], ReferentialAction.SetNull)],
                }
                : t).ToList(),
        };

        var generated = CSharpMigrationWriter.Write(new MigrationSpec(1, "Managers"), Model, changed);

        generated.Code.ShouldContain("[Migration(1, TransactionBehavior.None, \"Managers\")]");
        BodyOf(generated.Code, "Up").ShouldContain(
            "AddForeignKeyNotValid(\"users_manager_id_fkey\", \"users\", [\"manager_id\"], \"users\", [\"id\"], System.Data.Rule.SetNull);");
    }

    [Fact]
    public void No_difference_gives_bodies_that_say_so()
    {
        var code = CSharpMigrationWriter.Write(new MigrationSpec(1, "Data fix"), Model, Model).Code;

        BodyOf(code, "Up").ShouldBe(["// Nothing to do in this direction."]);
    }

    [Theory]
    [InlineData("Add user preferences", "M1_AddUserPreferences")]
    [InlineData("add   company's settings!", "M1_AddCompanysSettings")]
    [InlineData("\"; System.IO.File.Delete(\"x\"); //", "M1_SystemIOFileDeleteX")]
    [InlineData("???", "M1_Migration")]
    public void Class_names_are_letters_and_digits_only(string message, string expected) =>
        CSharpSyntax.MigrationClassName(1, message).ShouldBe(expected);

    [Theory]
    [InlineData("plain", "\"plain\"")]
    [InlineData("a\"b", "\"a\\\"b\"")]
    [InlineData("back\\slash", "\"back\\\\slash\"")]
    [InlineData("two\nlines", "\"two\\nlines\"")]
    [InlineData("bell\a", "\"bell\\u0007\"")]
    public void String_literals_escape_everything_that_could_end_them(string value, string literal) =>
        CSharpSyntax.Literal(value).ShouldBe(literal);
}
