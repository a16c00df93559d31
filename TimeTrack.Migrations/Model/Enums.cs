namespace TimeTrack.Migrations.Model;

// Member names are the stored values, so they keep the database's spelling.
#pragma warning disable CA1707 // identifiers with underscores: they are the stored values

[DbEnum("role")]
public enum Role
{
    TEAM_MEMBER,
    TEAM_LEADER,
    SUPERVISOR,
    ADMIN,
    SYSTEM_ADMIN,
}

[DbEnum("taskstatus")]
public enum TaskStatus
{
    TODO,
    IN_PROGRESS,
    IN_REVIEW,
    DONE,
    CANCELLED,
}

[DbEnum("taskpriority")]
public enum TaskPriority
{
    LOW,
    MEDIUM,
    HIGH,
    URGENT,
}
