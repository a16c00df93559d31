namespace TimeTrack.Migrations.Model;

[Table("time_entries")]
[Index("ix_time_entries_user_arrival", nameof(UserId), nameof(ArrivalTime))]
public sealed class TimeEntry
{
    [Column("id"), PrimaryKey("time_entries_pkey"), Identity]
    public int Id { get; set; }

    [Column("user_id"), ForeignKey("time_entries_user_id_fkey", typeof(User))]
    public int UserId { get; set; }

    [Column("project_id"), ForeignKey("time_entries_project_id_fkey", typeof(Project))]
    public int? ProjectId { get; set; }

    [Column("task_id"), ForeignKey("time_entries_task_id_fkey", typeof(ProjectTask))]
    public int? TaskId { get; set; }

    [Column("arrival_time")]
    public DateTime ArrivalTime { get; set; }

    [Column("departure_time")]
    public DateTime? DepartureTime { get; set; }

    /// <summary>Seconds.</summary>
    [Column("duration")]
    public int? Duration { get; set; }

    /// <summary>Seconds.</summary>
    [Column("total_break_duration"), Default(0)]
    public int TotalBreakDuration { get; set; }

    [Column("notes")]
    public string? Notes { get; set; }

    [Column("created_at"), DefaultNow]
    public DateTime CreatedAt { get; set; }
}
