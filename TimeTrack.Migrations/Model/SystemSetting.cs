namespace TimeTrack.Migrations.Model;

[Table("system_settings")]
public sealed class SystemSetting
{
    [Column("key"), PrimaryKey("system_settings_pkey"), MaxLength(100)]
    public string Key { get; set; } = "";

    [Column("value")]
    public string? Value { get; set; }

    [Column("updated_at"), DefaultNow]
    public DateTime UpdatedAt { get; set; }
}
