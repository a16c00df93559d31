namespace TimeTrack.Migrations.Model;

[Table("users")]
[Unique("users_company_id_username_key", nameof(CompanyId), nameof(Username))]
[Unique("users_email_key", nameof(Email))]
public sealed class User
{
    [Column("id"), PrimaryKey("users_pkey"), Identity]
    public int Id { get; set; }

    [Column("company_id"), ForeignKey("users_company_id_fkey", typeof(Company))]
    public int CompanyId { get; set; }

    [Column("team_id"), ForeignKey("users_team_id_fkey", typeof(Team))]
    public int? TeamId { get; set; }

    [Column("username"), MaxLength(80)]
    public string Username { get; set; } = "";

    [Column("email"), MaxLength(120)]
    public string Email { get; set; } = "";

    [Column("password_hash"), MaxLength(255)]
    public string? PasswordHash { get; set; }

    [Column("role"), Default(Model.Role.TEAM_MEMBER)]
    public Role Role { get; set; }

    [Column("is_verified"), Default(false)]
    public bool IsVerified { get; set; }

    [Column("is_blocked"), Default(false)]
    public bool IsBlocked { get; set; }

    [Column("two_factor_enabled"), Default(false)]
    public bool TwoFactorEnabled { get; set; }

    [Column("two_factor_secret"), MaxLength(32)]
    public string? TwoFactorSecret { get; set; }

    [Column("created_at"), DefaultNow]
    public DateTime CreatedAt { get; set; }

    [Column("last_login_at")]
    public DateTime? LastLoginAt { get; set; }
}
