namespace TimeTrack.Migrations.Runner.Running;

/// <summary>
/// How a transactional step waits for its table locks under live traffic: each attempt may wait
/// <see cref="LockTimeout"/> for a lock (PostgreSQL <c>lock_timeout</c>), so the queries queued
/// behind its ALTER TABLE wait no longer than that; an attempt that times out is rolled back and
/// retried after an exponential, jittered delay, at most <see cref="Retries"/> times and not
/// beyond <see cref="RetryFor"/>, so a container's start still ends in bounded time.
/// </summary>
/// <param name="LockTimeout">Zero: no lock timeout (a step waits as long as it takes, and is never retried).</param>
/// <param name="Retries">Attempts after the first.</param>
/// <param name="RetryFor">No attempt starts that could end later than this after the first began; zero: only <paramref name="Retries"/> bounds it.</param>
/// <param name="StatementTimeout">Zero: none. Any one statement of a transactional step may run this long.</param>
public sealed record DdlRetryPolicy(TimeSpan LockTimeout, int Retries, TimeSpan RetryFor, TimeSpan StatementTimeout)
{
    /// <summary>
    /// 3 s: far more than a catalog-only ALTER needs once it has its lock (milliseconds), and about
    /// what a user waits for a page before retrying; 8 retries within 60 s ride out a report or a
    /// batch job of up to about a minute, and a start that cannot migrate fails in about a minute.
    /// </summary>
    public static DdlRetryPolicy Default { get; } = new(
        TimeSpan.FromSeconds(Settings.OptionDefinitions.DdlLockTimeout.Default),
        Settings.OptionDefinitions.DdlRetries.Default,
        TimeSpan.FromSeconds(Settings.OptionDefinitions.DdlRetryFor.Default),
        TimeSpan.FromSeconds(Settings.OptionDefinitions.StatementTimeout.Default));

    /// <summary>The first retry's delay; each later one doubles, up to <see cref="MaxDelay"/>.</summary>
    public static readonly TimeSpan BaseDelay = TimeSpan.FromMilliseconds(500);

    public static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(8);

    /// <summary>
    /// The delay before retry number <paramref name="retry"/> (1 = the first): exponential
    /// (0.5, 1, 2, 4, 8, 8 … s) with "equal jitter" — a random half of it — so that several
    /// containers started together do not queue their ALTERs at the same instant again.
    /// </summary>
    public static TimeSpan Delay(int retry, Random random)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(retry, 1);
        var ceiling = Math.Min(MaxDelay.TotalMilliseconds, BaseDelay.TotalMilliseconds * Math.Pow(2, Math.Min(retry - 1, 30)));
        return TimeSpan.FromMilliseconds(ceiling / 2 + random.NextDouble() * ceiling / 2);
    }

    /// <summary>
    /// Whether retry number <paramref name="retry"/> may start after <paramref name="delay"/>,
    /// <paramref name="elapsed"/> after the first attempt began, with an attempt lasting up to
    /// <paramref name="lockTimeout"/> waiting for its lock.
    /// </summary>
    public bool MayRetry(int retry, TimeSpan elapsed, TimeSpan delay, TimeSpan lockTimeout) =>
        retry <= Retries && (RetryFor <= TimeSpan.Zero || elapsed + delay + lockTimeout <= RetryFor);

    /// <summary>The options as an operator passes them, for messages.</summary>
    public string Describe(TimeSpan lockTimeout) =>
        $"--ddl-lock-timeout {Seconds(lockTimeout)} s, --ddl-retries {Retries}" + (RetryFor > TimeSpan.Zero ? $", --ddl-retry-for {Seconds(RetryFor)} s" : "");

    public static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture);
}
