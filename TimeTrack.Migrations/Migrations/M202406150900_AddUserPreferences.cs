using FluentMigrator;

namespace TimeTrack.Migrations.Migrations;

[Migration(202406150900, "Add user preferences")]
public sealed class M202406150900_AddUserPreferences : TimeTrackMigration
{
    public override void Up()
    {
        Create.Table("user_preferences")
            .WithColumn("user_id").AsCustom(Sql.Integer).NotNullable().PrimaryKey("user_preferences_pkey")
                .ForeignKey("user_preferences_user_id_fkey", "users", "id").OnDelete(System.Data.Rule.Cascade)
            .WithColumn("time_format_24h").AsCustom(Sql.Boolean).NotNullable().WithDefaultValue(true)
            .WithColumn("date_format").AsCustom(Sql.Varchar(20)).NotNullable().WithDefaultValue("ISO")
            .WithColumn("timezone").AsCustom(Sql.Varchar(64)).NotNullable().WithDefaultValue("UTC")
            .WithColumn("time_rounding_minutes").AsCustom(Sql.Integer).NotNullable().WithDefaultValue(0);
    }

    public override void Down()
    {
        Delete.Table("user_preferences");
    }
}
