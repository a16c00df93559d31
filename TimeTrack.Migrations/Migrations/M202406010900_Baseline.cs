using FluentMigrator;

namespace TimeTrack.Migrations.Migrations;

/// <summary>
/// State 1 of the model: the schema the old application's create_all() made. A database
/// created from empty and a legacy database adopted at this version are the same: PostgreSQL's
/// default constraint names, serial ids with their {table}_id_seq, no ON DELETE rules.
/// </summary>
[Migration(202406010900, "Baseline")]
public sealed class M202406010900_Baseline : TimeTrackMigration
{
    // The enum values as they were at this version; later migrations add their own.
    private static readonly string[] RoleValues = ["TEAM_MEMBER", "TEAM_LEADER", "SUPERVISOR", "ADMIN", "SYSTEM_ADMIN"];
    private static readonly string[] TaskStatusValues = ["TODO", "IN_PROGRESS", "IN_REVIEW", "DONE", "CANCELLED"];

    public override void Up()
    {
        CreateEnumType("role", RoleValues);
        CreateEnumType("taskstatus", TaskStatusValues);

        Create.Table("companies")
            .WithColumn("id").AsCustom(Sql.Serial).NotNullable().PrimaryKey("companies_pkey")
            .WithColumn("name").AsCustom(Sql.Varchar(100)).NotNullable()
            .WithColumn("slug").AsCustom(Sql.Varchar(100)).NotNullable()
            .WithColumn("is_personal").AsCustom(Sql.Boolean).NotNullable().WithDefaultValue(false)
            .WithColumn("max_users").AsCustom(Sql.Integer).Nullable()
            .WithColumn("created_at").AsCustom(Sql.Timestamp).NotNullable().WithDefault(Sql.Now);
        Create.UniqueConstraint("companies_slug_key").OnTable("companies").Column("slug");

        Create.Table("teams")
            .WithColumn("id").AsCustom(Sql.Serial).NotNullable().PrimaryKey("teams_pkey")
            .WithColumn("company_id").AsCustom(Sql.Integer).NotNullable().ForeignKey("teams_company_id_fkey", "companies", "id")
            .WithColumn("name").AsCustom(Sql.Varchar(100)).NotNullable()
            .WithColumn("description").AsCustom(Sql.Varchar(255)).Nullable()
            .WithColumn("created_at").AsCustom(Sql.Timestamp).NotNullable().WithDefault(Sql.Now);
        Create.UniqueConstraint("teams_company_id_name_key").OnTable("teams").Columns("company_id", "name");

        Create.Table("users")
            .WithColumn("id").AsCustom(Sql.Serial).NotNullable().PrimaryKey("users_pkey")
            .WithColumn("company_id").AsCustom(Sql.Integer).NotNullable().ForeignKey("users_company_id_fkey", "companies", "id")
            .WithColumn("team_id").AsCustom(Sql.Integer).Nullable().ForeignKey("users_team_id_fkey", "teams", "id")
            .WithColumn("username").AsCustom(Sql.Varchar(80)).NotNullable()
            .WithColumn("email").AsCustom(Sql.Varchar(120)).NotNullable()
            .WithColumn("password_hash").AsCustom(Sql.Varchar(255)).Nullable()
            .WithColumn("role").AsCustom(Sql.Enum("role", "role", RoleValues)).NotNullable().WithDefaultValue("TEAM_MEMBER")
            .WithColumn("is_verified").AsCustom(Sql.Boolean).NotNullable().WithDefaultValue(false)
            .WithColumn("is_blocked").AsCustom(Sql.Boolean).NotNullable().WithDefaultValue(false)
            .WithColumn("two_factor_enabled").AsCustom(Sql.Boolean).NotNullable().WithDefaultValue(false)
            .WithColumn("two_factor_secret").AsCustom(Sql.Varchar(32)).Nullable()
            .WithColumn("created_at").AsCustom(Sql.Timestamp).NotNullable().WithDefault(Sql.Now)
            .WithColumn("last_login_at").AsCustom(Sql.Timestamp).Nullable();
        Create.UniqueConstraint("users_company_id_username_key").OnTable("users").Columns("company_id", "username");
        Create.UniqueConstraint("users_email_key").OnTable("users").Column("email");

        Create.Table("projects")
            .WithColumn("id").AsCustom(Sql.Serial).NotNullable().PrimaryKey("projects_pkey")
            .WithColumn("company_id").AsCustom(Sql.Integer).NotNullable().ForeignKey("projects_company_id_fkey", "companies", "id")
            .WithColumn("team_id").AsCustom(Sql.Integer).Nullable().ForeignKey("projects_team_id_fkey", "teams", "id")
            .WithColumn("name").AsCustom(Sql.Varchar(100)).NotNullable()
            .WithColumn("code").AsCustom(Sql.Varchar(20)).NotNullable()
            .WithColumn("description").AsCustom(Sql.Text).Nullable()
            .WithColumn("is_active").AsCustom(Sql.Boolean).NotNullable().WithDefaultValue(true)
            .WithColumn("is_billable").AsCustom(Sql.Boolean).NotNullable().WithDefaultValue(true)
            .WithColumn("hourly_rate").AsCustom(Sql.Numeric(10, 2)).Nullable()
            .WithColumn("start_date").AsCustom(Sql.Date).Nullable()
            .WithColumn("end_date").AsCustom(Sql.Date).Nullable()
            .WithColumn("created_by_id").AsCustom(Sql.Integer).Nullable().ForeignKey("projects_created_by_id_fkey", "users", "id")
            .WithColumn("created_at").AsCustom(Sql.Timestamp).NotNullable().WithDefault(Sql.Now);
        Create.UniqueConstraint("projects_company_id_code_key").OnTable("projects").Columns("company_id", "code");

        Create.Table("tasks")
            .WithColumn("id").AsCustom(Sql.Serial).NotNullable().PrimaryKey("tasks_pkey")
            .WithColumn("project_id").AsCustom(Sql.Integer).NotNullable().ForeignKey("tasks_project_id_fkey", "projects", "id")
            .WithColumn("name").AsCustom(Sql.Varchar(200)).NotNullable()
            .WithColumn("description").AsCustom(Sql.Text).Nullable()
            .WithColumn("status").AsCustom(Sql.Enum("taskstatus", "status", TaskStatusValues)).NotNullable().WithDefaultValue("TODO")
            .WithColumn("assigned_to_id").AsCustom(Sql.Integer).Nullable().ForeignKey("tasks_assigned_to_id_fkey", "users", "id")
            .WithColumn("estimated_hours").AsCustom(Sql.Numeric(6, 2)).Nullable()
            .WithColumn("due_date").AsCustom(Sql.Date).Nullable()
            .WithColumn("created_at").AsCustom(Sql.Timestamp).NotNullable().WithDefault(Sql.Now);

        Create.Table("time_entries")
            .WithColumn("id").AsCustom(Sql.Serial).NotNullable().PrimaryKey("time_entries_pkey")
            .WithColumn("user_id").AsCustom(Sql.Integer).NotNullable().ForeignKey("time_entries_user_id_fkey", "users", "id")
            .WithColumn("project_id").AsCustom(Sql.Integer).Nullable().ForeignKey("time_entries_project_id_fkey", "projects", "id")
            .WithColumn("task_id").AsCustom(Sql.Integer).Nullable().ForeignKey("time_entries_task_id_fkey", "tasks", "id")
            .WithColumn("arrival_time").AsCustom(Sql.Timestamp).NotNullable()
            .WithColumn("departure_time").AsCustom(Sql.Timestamp).Nullable()
            .WithColumn("duration").AsCustom(Sql.Integer).Nullable()
            .WithColumn("total_break_duration").AsCustom(Sql.Integer).NotNullable().WithDefaultValue(0)
            .WithColumn("notes").AsCustom(Sql.Text).Nullable()
            .WithColumn("created_at").AsCustom(Sql.Timestamp).NotNullable().WithDefault(Sql.Now);

        Create.Table("system_settings")
            .WithColumn("key").AsCustom(Sql.Varchar(100)).NotNullable().PrimaryKey("system_settings_pkey")
            .WithColumn("value").AsCustom(Sql.Text).Nullable()
            .WithColumn("updated_at").AsCustom(Sql.Timestamp).NotNullable().WithDefault(Sql.Now);
    }

    public override void Down()
    {
        // Children before parents, so no foreign key is left pointing at a dropped table.
        foreach (var table in new[] { "system_settings", "time_entries", "tasks", "projects", "users", "teams", "companies" })
        {
            Delete.Table(table);
        }

        DropEnumType("taskstatus");
        DropEnumType("role");
    }
}
