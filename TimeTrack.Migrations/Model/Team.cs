namespace TimeTrack.Migrations.Model;

[Table("teams")]
[Unique("teams_company_id_name_key", nameof(CompanyId), nameof(Name))]
public sealed class Team
{
    [Column("id"), PrimaryKey("teams_pkey"), Identity]
    public int Id { get; set; }

    [Column("company_id"), ForeignKey("teams_company_id_fkey", typeof(Company))]
    public int CompanyId { get; set; }

    [Column("name"), MaxLength(100)]
    public string Name { get; set; } = "";

    [Column("description"), MaxLength(255)]
    public string? Description { get; set; }

    [Column("created_at"), DefaultNow]
    public DateTime CreatedAt { get; set; }
}
