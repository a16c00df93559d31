using TimeTrack.Migrations.Runner.Databases;

namespace TimeTrack.Migrations.Runner.FastStart;

/// <summary>The lines <c>start</c> writes of its own (the runner's StartCommand and the front alike).</summary>
public static class StartMessages
{
    /// <summary>The URL masked: the image's default may carry a password (issue 22).</summary>
    public static string ImageDefaultUrl(string url) =>
        $"no DATABASE_URL or DATABASE_URL_FILE given: using the image's default {DatabaseUrl.Mask(url)}";

    public static string Starting(string program) => $"starting {program}";

    /// <summary>An exec that failed: <paramref name="program"/> (the application, or the front's full runner) and the system's reason.</summary>
    public static string CannotStart(string program, string why) => $"cannot start {program}: {why}";

    public static string NotStarting(int code, bool interrupted) =>
        $"migration {(interrupted ? "interrupted by a signal" : "failed")} (exit {code}): not starting the application";

    public const string NotMigrating = "MIGRATE_ON_START=false: not migrating";
}
