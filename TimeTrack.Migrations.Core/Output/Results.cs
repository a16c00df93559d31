using System.Text.Json;
using System.Text.Json.Serialization;

namespace TimeTrack.Migrations.Runner.Output;

/// <summary>A migration run, as the result documents list it.</summary>
public sealed record StepDocument(long Version, string Description, long DurationMs);

/// <summary>A step of init, which may go down as well as up.</summary>
public sealed record InitStepDocument(long Version, string Description, string Direction, long DurationMs);

/// <summary>The backup a command wrote before its first change.</summary>
public sealed record BackupDocument(string Path, long Version, DateTime TakenAt, long Bytes);

/// <summary><c>up --json</c>.</summary>
public sealed record UpResult(string Command, string Database, long From, long To, long Head, IReadOnlyList<StepDocument> Applied, BackupDocument? Backup);

/// <summary><c>init --json</c> (and <c>start --json</c>).</summary>
public sealed record InitResult(
    string Command, string Database, string Scenario, string? Profile, IReadOnlyList<string> Warnings,
    long From, long To, long Head, IReadOnlyList<InitStepDocument> Steps, BackupDocument? Backup);

/// <summary>The JSON document of any failure with --json: <c>{"error":{"exitCode":N,"message":"..."}}</c>.</summary>
public sealed record ErrorDocument(ErrorDocument.Detail Error)
{
    public sealed record Detail(int ExitCode, string Message);

    public static string Serialize(ExitCode code, string message) =>
        JsonSerializer.Serialize(new ErrorDocument(new Detail((int)code, message)), ResultJson.Compact.ErrorDocument);
}

/// <summary>
/// The result documents' serialization, generated at build time (no reflection: the NativeAOT
/// front writes the same documents as the runner): indented, camelCase, as every command's.
/// </summary>
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(UpResult))]
[JsonSerializable(typeof(InitResult))]
[JsonSerializable(typeof(ErrorDocument))]
public sealed partial class ResultJson : JsonSerializerContext
{
    /// <summary>One line: the error document.</summary>
    public static ResultJson Compact { get; } = new(new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.CamelCase });
}
