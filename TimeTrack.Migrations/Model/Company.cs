namespace TimeTrack.Migrations.Model;

[Table("companies")]
[Unique("companies_slug_key", nameof(Slug))]
public sealed class Company
{
    [Column("id"), PrimaryKey("companies_pkey"), Identity]
    public int Id { get; set; }

    [Column("name"), MaxLength(100)]
    public string Name { get; set; } = "";

    [Column("slug"), MaxLength(100)]
    public string Slug { get; set; } = "";

    [Column("is_personal"), Default(false)]
    public bool IsPersonal { get; set; }

    [Column("max_users")]
    public int? MaxUsers { get; set; }

    [Column("created_at"), DefaultNow]
    public DateTime CreatedAt { get; set; }
}
