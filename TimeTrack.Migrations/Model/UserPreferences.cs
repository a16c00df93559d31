namespace TimeTrack.Migrations.Model;

/// <summary>Added by M202406150900_AddUserPreferences.</summary>
[Table("user_preferences")]
public sealed class UserPreferences
{
    [Column("user_id"), PrimaryKey("user_preferences_pkey")]
    [ForeignKey("user_preferences_user_id_fkey", typeof(User), OnDelete = DeleteRule.Cascade)]
    public int UserId { get; set; }

    [Column("time_format_24h"), Default(true)]
    public bool TimeFormat24h { get; set; }

    [Column("date_format"), MaxLength(20), Default("ISO")]
    public string DateFormat { get; set; } = "ISO";

    [Column("timezone"), MaxLength(64), Default("UTC")]
    public string Timezone { get; set; } = "UTC";

    [Column("time_rounding_minutes"), Default(0)]
    public int TimeRoundingMinutes { get; set; }
}
