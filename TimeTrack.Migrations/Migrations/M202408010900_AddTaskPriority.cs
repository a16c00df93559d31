using FluentMigrator;

namespace TimeTrack.Migrations.Migrations;

[Migration(202408010900, "Add task priority")]
public sealed class M202408010900_AddTaskPriority : TimeTrackMigration
{
    private static readonly string[] PriorityValues = ["LOW", "MEDIUM", "HIGH", "URGENT"];

    public override void Up()
    {
        CreateEnumType("taskpriority", PriorityValues);

        // NOT NULL with a default: existing rows get MEDIUM as the column is added.
        Alter.Table("tasks")
            .AddColumn("priority").AsCustom(Sql.Enum("taskpriority", "priority", PriorityValues))
            .NotNullable().WithDefaultValue("MEDIUM");
    }

    public override void Down()
    {
        Delete.Column("priority").FromTable("tasks");
        DropEnumType("taskpriority");
    }
}
