namespace TimeTrack.Migrations.Model;

[Table("projects")]
[Unique("projects_company_id_code_key", nameof(CompanyId), nameof(Code))]
public sealed class Project
{
    [Column("id"), PrimaryKey("projects_pkey"), Identity]
    public int Id { get; set; }

    [Column("company_id"), ForeignKey("projects_company_id_fkey", typeof(Company))]
    public int CompanyId { get; set; }

    [Column("team_id"), ForeignKey("projects_team_id_fkey", typeof(Team))]
    public int? TeamId { get; set; }

    [Column("name"), MaxLength(100)]
    public string Name { get; set; } = "";

    [Column("code"), MaxLength(20)]
    public string Code { get; set; } = "";

    [Column("description")]
    public string? Description { get; set; }

    [Column("is_active"), Default(true)]
    public bool IsActive { get; set; }

    [Column("is_billable"), Default(true)]
    public bool IsBillable { get; set; }

    [Column("hourly_rate"), Precision(10, 2)]
    public decimal? HourlyRate { get; set; }

    [Column("start_date")]
    public DateOnly? StartDate { get; set; }

    [Column("end_date")]
    public DateOnly? EndDate { get; set; }

    [Column("created_by_id"), ForeignKey("projects_created_by_id_fkey", typeof(User))]
    public int? CreatedById { get; set; }

    [Column("created_at"), DefaultNow]
    public DateTime CreatedAt { get; set; }
}
