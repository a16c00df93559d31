using System.Globalization;

namespace TimeTrack.Migrations.Runner.Databases;

/// <summary>
/// How far the statement of a running step has got, as the database reports it: PostgreSQL's
/// pg_stat_progress_create_index for an index build (CREATE INDEX [CONCURRENTLY], REINDEX).
/// </summary>
/// <param name="Command">CREATE INDEX, CREATE INDEX CONCURRENTLY, REINDEX ...</param>
/// <param name="Phase">The server's own words ("building index: scanning table").</param>
/// <param name="LockersTotal">The transactions an index build waits out in its "waiting for ..." phases.</param>
public sealed record StepProgress(
    string Command, string Phase, long BlocksDone, long BlocksTotal, long TuplesDone, long TuplesTotal, long LockersDone, long LockersTotal)
{
    /// <summary>"CREATE INDEX CONCURRENTLY, building index: scanning table, blocks 120 of 400 (30%)": the figure the phase moves.</summary>
    public string Describe()
    {
        var figure = BlocksTotal > 0 ? Of("blocks", BlocksDone, BlocksTotal)
            : TuplesTotal > 0 ? Of("tuples", TuplesDone, TuplesTotal)
            : LockersTotal > 0 ? Of("transactions waited out", LockersDone, LockersTotal)
            : TuplesDone > 0 ? $"tuples {TuplesDone.ToString(CultureInfo.InvariantCulture)}"
            : null;
        return $"{Command}, {Phase}" + (figure is null ? "" : ", " + figure);
    }

    private static string Of(string what, long done, long total) =>
        string.Create(CultureInfo.InvariantCulture, $"{what} {done} of {total} ({100 * done / total}%)");
}
