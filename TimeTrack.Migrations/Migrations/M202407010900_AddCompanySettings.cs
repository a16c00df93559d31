using FluentMigrator;

namespace TimeTrack.Migrations.Migrations;

[Migration(202407010900, "Add company settings")]
public sealed class M202407010900_AddCompanySettings : TimeTrackMigration
{
    public override void Up()
    {
        Create.Table("company_settings")
            .WithColumn("company_id").AsCustom(Sql.Integer).NotNullable().PrimaryKey("company_settings_pkey")
                .ForeignKey("company_settings_company_id_fkey", "companies", "id").OnDelete(System.Data.Rule.Cascade)
            .WithColumn("work_hours_per_day").AsCustom(Sql.Numeric(4, 2)).NotNullable().WithDefaultValue(8)
            .WithColumn("mandatory_break_minutes").AsCustom(Sql.Integer).NotNullable().WithDefaultValue(30)
            .WithColumn("break_threshold_hours").AsCustom(Sql.Numeric(4, 2)).NotNullable().WithDefaultValue(6)
            .WithColumn("additional_break_minutes").AsCustom(Sql.Integer).NotNullable().WithDefaultValue(15)
            .WithColumn("additional_break_threshold_hours").AsCustom(Sql.Numeric(4, 2)).NotNullable().WithDefaultValue(9)
            .WithColumn("region").AsCustom(Sql.Varchar(8)).NotNullable().WithDefaultValue("DE");

        // Every company that exists already gets its row of defaults; new companies get theirs
        // from the application. Runs in the same transaction as the CREATE TABLE.
        Execute.Sql("INSERT INTO company_settings (company_id) SELECT id FROM companies");
    }

    public override void Down()
    {
        Delete.Table("company_settings");
    }
}
