namespace TimeTrack.Migrations.Model;

/// <summary>Added by M202407010900_AddCompanySettings.</summary>
[Table("company_settings")]
public sealed class CompanySettings
{
    [Column("company_id"), PrimaryKey("company_settings_pkey")]
    [ForeignKey("company_settings_company_id_fkey", typeof(Company), OnDelete = DeleteRule.Cascade)]
    public int CompanyId { get; set; }

    [Column("work_hours_per_day"), Precision(4, 2), Default(8)]
    public decimal WorkHoursPerDay { get; set; }

    [Column("mandatory_break_minutes"), Default(30)]
    public int MandatoryBreakMinutes { get; set; }

    [Column("break_threshold_hours"), Precision(4, 2), Default(6)]
    public decimal BreakThresholdHours { get; set; }

    [Column("additional_break_minutes"), Default(15)]
    public int AdditionalBreakMinutes { get; set; }

    [Column("additional_break_threshold_hours"), Precision(4, 2), Default(9)]
    public decimal AdditionalBreakThresholdHours { get; set; }

    [Column("region"), MaxLength(8), Default("DE")]
    public string Region { get; set; } = "DE";
}
