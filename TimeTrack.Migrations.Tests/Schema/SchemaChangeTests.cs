using TimeTrack.Migrations.Runner.Schema;

namespace TimeTrack.Migrations.Tests.Schema;

/// <summary>Each change kind describes itself once; the diff line, the drift line and the risk all come from there.</summary>
public sealed class SchemaChangeTests
{
    private static readonly ColumnSchema Serial = new(
        "id", new ColumnType(TypeKind.Integer), false, Identity: true, Generator: "nextval('teams_id_seq')",
        Sequence: new SequenceSettings("teams_id_seq", "integer", 1, 1, 1, int.MaxValue, false, OwnedByColumn: true));

    private static readonly ColumnSchema Counter = new("total_break_duration", new ColumnType(TypeKind.Integer), false, "0");

    [Fact]
    public void An_added_or_dropped_object_is_one_subject_rendered_as_a_diff_line_and_as_drift()
    {
        var add = new AddColumn("users", new ColumnSchema("nickname", ColumnType.Varchar(40), true));

        add.Describe().ShouldBe("+ column users.nickname varchar(40) null");
        add.DescribeAsDrift().ShouldBe("missing column users.nickname (varchar(40) null)");
        add.Reverse().Describe().ShouldBe("- column users.nickname varchar(40) null");
        add.Reverse().DescribeAsDrift().ShouldBe("extra column users.nickname (varchar(40) null)");
    }

    [Fact]
    public void A_removed_or_changed_default_is_worded_as_what_it_is()
    {
        // The diff goes from the live database to the expected schema; drift tells what was done to the database.
        new AlterColumn("teams", Serial with { Generator = null, Identity = false, Sequence = null }, Serial).DescribeAsDrift()
            .ShouldBe("changed column teams.id: default was removed (was nextval('teams_id_seq'))");
        new AlterColumn("time_entries", Counter with { Default = "5" }, Counter).DescribeAsDrift()
            .ShouldBe("changed column time_entries.total_break_duration: default changed from 0 to 5");
        new AlterColumn("time_entries", Counter, Counter with { Default = null }).Describe()
            .ShouldBe("~ column time_entries.total_break_duration: default was removed (was 0)");
    }

    [Fact]
    public void A_serial_sequence_is_described_with_its_column()
    {
        var unowned = Serial with { Sequence = Serial.Sequence! with { OwnedByColumn = false, Increment = 5 } };

        new AlterColumn("teams", unowned, Serial).DescribeAsDrift()
            .ShouldBe("changed column teams.id: sequence teams_id_seq is no longer OWNED BY teams.id, sequence increment 1 -> 5");
    }

    [Fact]
    public void Sequences_are_compared_only_between_two_catalogs_that_read_them()
    {
        var model = ModelReader.ReadShippedModel();
        var live = model with
        {
            Capabilities = SchemaCapabilities.Postgres,
            Tables = model.Tables.Select(t => t.Name == "teams"
                ? t with { Columns = t.Columns.Select(c => c.Name == "id" ? Serial : c).ToList() }
                : t).ToList(),
        };
        var changed = live with
        {
            Tables = live.Tables.Select(t => t.Name == "teams"
                ? t with { Columns = t.Columns.Select(c => c.Name == "id" ? c with { Sequence = c.Sequence! with { Start = 100 } } : c).ToList() }
                : t).ToList(),
        };

        SchemaComparer.Compare(live, model).IsEmpty.ShouldBeTrue();
        SchemaComparer.Compare(live, live).IsEmpty.ShouldBeTrue();
        SchemaComparer.Compare(changed, changed).IsEmpty.ShouldBeTrue();
        SchemaComparer.Compare(live, changed).Render().ShouldBe("~ column teams.id: sequence start 1 -> 100");
    }

    [Fact]
    public void Index_keys_are_compared_with_their_sort_order_and_expressions()
    {
        var index = new IndexSchema("ix_time_entries_user_arrival", ["user_id", "arrival_time"]);
        var descending = index with { Keys = ["user_id", new IndexKey("arrival_time", Descending: true, NullsFirst: false)] };
        var expression = index with { Keys = ["user_id", new IndexKey("date(arrival_time)", Expression: true)] };

        new DropIndex("time_entries", descending).DescribeAsDrift()
            .ShouldBe("extra index ix_time_entries_user_arrival on time_entries(user_id, arrival_time DESC NULLS LAST)");
        new AddIndex("time_entries", expression).Describe()
            .ShouldBe("+ index ix_time_entries_user_arrival on time_entries(user_id, date(arrival_time))");
        (index == descending).ShouldBeFalse();
        index.Keys.SequenceEqual(new IndexSchema("x", ["user_id", "arrival_time"]).Keys).ShouldBeTrue();
    }

    public static readonly TheoryData<SchemaChange, ChangeRisk> Risks = new()
    {
        { new AddTable(new TableSchema("t", [], null, [], [], [])), ChangeRisk.None },
        { new DropTable(new TableSchema("t", [], null, [], [], [])), ChangeRisk.LosesData },
        { new AddColumn("t", new ColumnSchema("c", new ColumnType(TypeKind.Text), true)), ChangeRisk.None },
        { new AddColumn("t", new ColumnSchema("c", new ColumnType(TypeKind.Text), false, "'x'")), ChangeRisk.None },
        { new AddColumn("t", new ColumnSchema("c", new ColumnType(TypeKind.Text), false)), ChangeRisk.FailsOnExistingRows },
        { new AddColumn("t", Serial), ChangeRisk.RewritesTable | ChangeRisk.LongLock },
        { new DropColumn("t", Counter), ChangeRisk.LosesData },
        { new AlterColumn("t", Counter, Counter with { Default = "5" }), ChangeRisk.None },
        { new AlterColumn("t", Counter with { Type = ColumnType.Varchar(10) }, Counter with { Type = ColumnType.Varchar(20) }), ChangeRisk.None },
        { new AlterColumn("t", Counter with { Type = ColumnType.Varchar(20) }, Counter with { Type = ColumnType.Varchar(10) }), ChangeRisk.RewritesTable | ChangeRisk.LongLock | ChangeRisk.FailsOnExistingRows },
        { new AlterColumn("t", Counter with { Type = ColumnType.Numeric(10, 2) }, Counter with { Type = ColumnType.Numeric(10, 0) }), ChangeRisk.RewritesTable | ChangeRisk.LongLock | ChangeRisk.FailsOnExistingRows | ChangeRisk.LosesData },
        { new AlterColumn("t", Counter with { Nullable = true }, Counter), ChangeRisk.FailsOnExistingRows | ChangeRisk.LongLock },
        { new AlterColumn("t", Counter, Counter with { Nullable = true }), ChangeRisk.None },
        { new AddPrimaryKey("t", new PrimaryKeySchema("t_pkey", ["id"])), ChangeRisk.FailsOnExistingRows | ChangeRisk.LongLock },
        { new DropPrimaryKey("t", new PrimaryKeySchema("t_pkey", ["id"])), ChangeRisk.None },
        { new AddForeignKey("t", new ForeignKeySchema("fk", ["a"], "u", ["id"], ReferentialAction.NoAction)), ChangeRisk.FailsOnExistingRows | ChangeRisk.LongLock },
        { new DropForeignKey("t", new ForeignKeySchema("fk", ["a"], "u", ["id"], ReferentialAction.NoAction)), ChangeRisk.None },
        { new AddUniqueConstraint("t", new UniqueConstraintSchema("uq", ["a"])), ChangeRisk.FailsOnExistingRows | ChangeRisk.LongLock },
        { new DropUniqueConstraint("t", new UniqueConstraintSchema("uq", ["a"])), ChangeRisk.None },
        { new AddCheckConstraint("t", new CheckConstraintSchema("ck", "CHECK ((a > 0))")), ChangeRisk.FailsOnExistingRows | ChangeRisk.LongLock },
        { new DropCheckConstraint("t", new CheckConstraintSchema("ck", "CHECK ((a > 0))")), ChangeRisk.None },
        { new AddIndex("t", new IndexSchema("ix", ["a"])), ChangeRisk.LongLock },
        { new AddIndex("t", new IndexSchema("ix", ["a"], Unique: true)), ChangeRisk.LongLock | ChangeRisk.FailsOnExistingRows },
        { new DropIndex("t", new IndexSchema("ix", ["a"])), ChangeRisk.None },
        { new AddEnum(new EnumSchema("e", ["A"])), ChangeRisk.None },
        { new DropEnum(new EnumSchema("e", ["A"])), ChangeRisk.None },
        { new AlterEnum(new EnumSchema("e", ["A"]), new EnumSchema("e", ["A", "B"])), ChangeRisk.UsableAfterCommit },
        { new AlterEnum(new EnumSchema("e", ["A", "B"]), new EnumSchema("e", ["B", "A"])), ChangeRisk.RewritesTable | ChangeRisk.LongLock },
        { new AlterEnum(new EnumSchema("e", ["A", "B"]), new EnumSchema("e", ["A"])), ChangeRisk.RewritesTable | ChangeRisk.LongLock | ChangeRisk.LosesData | ChangeRisk.FailsOnExistingRows },
        { new AddSequence("s"), ChangeRisk.None },
        { new DropSequence("s"), ChangeRisk.LosesData },
    };

    [Theory]
    [MemberData(nameof(Risks))]
    public void Each_change_kind_carries_its_risk(SchemaChange change, ChangeRisk risk) => change.Risk.ShouldBe(risk, change.Describe());

    [Fact]
    public void A_risk_reads_as_a_sentence() =>
        ChangeRisks.Explain(ChangeRisk.LosesData | ChangeRisk.LongLock)
            .ShouldBe("loses data that Down cannot bring back; blocks writes to the table while it scans or builds");
}
