namespace TimeTrack.Migrations.Model;

// Named ProjectTask so it does not shadow System.Threading.Tasks.Task.
[Table("tasks")]
public sealed class ProjectTask
{
    [Column("id"), PrimaryKey("tasks_pkey"), Identity]
    public int Id { get; set; }

    [Column("project_id"), ForeignKey("tasks_project_id_fkey", typeof(Project))]
    public int ProjectId { get; set; }

    [Column("name"), MaxLength(200)]
    public string Name { get; set; } = "";

    [Column("description")]
    public string? Description { get; set; }

    [Column("status"), Default(TaskStatus.TODO)]
    public TaskStatus Status { get; set; }

    [Column("assigned_to_id"), ForeignKey("tasks_assigned_to_id_fkey", typeof(User))]
    public int? AssignedToId { get; set; }

    [Column("estimated_hours"), Precision(6, 2)]
    public decimal? EstimatedHours { get; set; }

    [Column("due_date")]
    public DateOnly? DueDate { get; set; }

    [Column("created_at"), DefaultNow]
    public DateTime CreatedAt { get; set; }

    /// <summary>Added by M202408010900_AddTaskPriority.</summary>
    [Column("priority"), Default(TaskPriority.MEDIUM)]
    public TaskPriority Priority { get; set; }
}
