using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Tests.Infrastructure;

namespace TimeTrack.Migrations.Tests.Runner;

/// <summary>
/// The bad-input matrix: URLs, versions, paths, secret files and environment values, each with its
/// exit code. Every one must give one `error:` line, no stack trace, no secret (nor anything of a
/// secret file), and leave both databases and the working directory as they were.
/// </summary>
public sealed class BadInputMatrixTests(BadInputMatrixFixture fixture) : IClassFixture<BadInputMatrixFixture>
{
    /// <summary>The password of every URL below: it must never be printed.</summary>
    public const string Secret = "S3cret-matrix-Qx7";

    private static readonly long Applied = RunnerTestBase.Versions[2];

    /// <summary>A bad input: where it goes, what it must give.</summary>
    /// <param name="Args">"{url}" is the case's database URL, "{dir}" the fixture's directory of files.</param>
    private sealed record BadInput(int ExitCode, string Expected, string[] Args, Dictionary<string, string>? Environment = null, DatabaseKind On = DatabaseKind.Postgres);

    private static BadInput Url(string url, string expected, int exitCode = 2) => new(exitCode, expected, ["status", "--database-url", url]);

    private static BadInput UpUrl(string url, string expected, int exitCode = 2) => new(exitCode, expected, ["up", "--database-url", url]);

    private static BadInput Sqlite(string[] args, string expected, int exitCode = 2) => new(exitCode, expected, args, On: DatabaseKind.Sqlite);

    private static BadInput UrlFile(string file, string expected, string command = "status") =>
        new(2, expected, [command], new() { ["DATABASE_URL_FILE"] = file });

    private static BadInput Env(string name, string value, string expected, string command = "status") =>
        new(2, expected, [command, "--database-url", "{url}"], new() { [name] = value });

    private static readonly string LongName = new('a', 10_000);

    private static readonly Dictionary<string, BadInput> Cases = new()
    {
        // ---- URLs: parsing, and never echoing what does not parse ----------------------------
        ["url: no '://' after a known scheme"] = Url($"postgresql:/app:{Secret}@db/tt", "'postgresql:' must be followed by '//'"),
        ["url: only a password"] = Url(Secret, "no scheme followed by '://'"),
        ["url: empty --database-url"] = Url("", "--database-url is empty"),
        ["url: only spaces"] = Url("   ", "--database-url is empty"),
        ["url: unknown scheme"] = Url($"mysql://u:{Secret}@h/db", "unsupported database URL scheme 'mysql'"),
        ["url: a scheme made of a password's characters"] = Url($"{Secret}$!://h/db", "unsupported database URL scheme: use one of"),
        ["url: a NUL byte"] = Url($"postgresql://u:{Secret}@h/db\0x", "control character"),
        ["url: a line break"] = Url($"postgresql://u:{Secret}@h/db\nwarning: forged", "control character"),
        ["url: a percent-encoded NUL"] = Url($"postgresql://u:{Secret}@h/d%00b", "percent-encoded NUL"),
        ["url: 10,000-character host"] = Url($"postgresql://u:{Secret}@{LongName}/db", "longer than 8192 characters"),
        ["url: 10,000-character user"] = Url($"postgresql://{LongName}:{Secret}@h/db", "longer than 8192 characters"),
        ["url: 10,000-character database"] = Url($"postgresql://u:{Secret}@h/{LongName}", "longer than 8192 characters"),
        ["url: 300-character host"] = Url($"postgresql://u:{Secret}@{new string('h', 300)}/db", "longer than 253 characters"),
        ["url: 64-byte user name"] = Url($"postgresql://{new string('u', 64)}:{Secret}@h/db", "user name in the URL is longer than PostgreSQL's 63-byte limit"),
        ["url: 64-byte database name"] = Url($"postgresql://u:{Secret}@h/{new string('d', 32)}%C3%A9{new string('d', 31)}", "database name in the URL is longer than PostgreSQL's 63-byte limit"),
        ["url: port 0"] = Url($"postgresql://u:{Secret}@h:0/db", "percent-encode the user name and password"),
        ["url: port 65536"] = Url($"postgresql://u:{Secret}@h:65536/db", "percent-encode the user name and password"),
        ["url: port -1"] = Url($"postgresql://u:{Secret}@h:-1/db", "percent-encode the user name and password"),
        ["url: port abc"] = Url($"postgresql://u:{Secret}@h:abc/db", "percent-encode the user name and password"),
        ["url: IPv6 without its ']'"] = Url($"postgresql://u:{Secret}@[::1:5432/db", "percent-encode the user name and password"),
        ["url: IPv6 with text after its ']'"] = Url($"postgresql://u:{Secret}@[::1]x/db", "percent-encode the user name and password"),
        ["url: IPv6 of letters"] = Url($"postgresql://u:{Secret}@[zz::1]:5432/db", "percent-encode the user name and password"),
        ["url: host with a space"] = Url($"postgresql://u:{Secret}@my host/db", "percent-encode the user name and password"),
        ["url: unicode host"] = Url($"postgresql://u:{Secret}@hôte.example/db", "percent-encode the user name and password"),
        ["url: '%' without two hex digits"] = Url($"postgresql://u:{Secret}%zz@h/db", "malformed percent-encoding"),
        ["url: percent-encoding that is not UTF-8"] = Url($"postgresql://u:{Secret}%C3%28@h/db", "not UTF-8"),
        ["url: unknown sslmode"] = Url($"postgresql://u:{Secret}@h/db?sslmode=sometimes", "sslmode 'sometimes' is not one of"),
        ["url: a parameter given twice"] = Url($"postgresql://u:{Secret}@h/db?sslmode=disable&sslmode=require", "'sslmode' is given more than once"),
        ["url: the password given twice"] = Url($"postgresql://u@h/db?password={Secret}&password={Secret}x", "'password' is given more than once"),
        ["url: an unknown parameter"] = Url($"postgresql://u:{Secret}@h/db?frobnicate=1", "query parameter 'frobnicate'"),
        ["url: no database"] = Url($"postgresql://u:{Secret}@h:5432/", "names no database"),
        ["url: longer than 8 KiB in its query"] = Url($"postgresql://u:{Secret}@h/db?application_name={new string('x', 9000)}", "longer than 8192 characters"),
        ["url: sqlite with one slash"] = Url("sqlite:/timetrack.db", "'sqlite:' must be followed by '//'"),
        ["url: sqlite without the path's slash"] = Url("sqlite://timetrack.db", "malformed SQLite URL"),
        ["url: sqlite with a query"] = Url("sqlite:///timetrack.db?mode=ro", "takes no query parameters"),

        // ---- Paths: files that are not SQLite databases are never opened, let alone written --
        ["path: sqlite:////etc/shadow"] = UpUrl("sqlite:////etc/shadow", "'/etc/shadow' is not a SQLite database"),
        ["path: /dev/null as the database"] = UpUrl("sqlite:////dev/null", "is a device, not a database file"),
        ["path: a text file as the database"] = UpUrl("sqlite:///{dir}/notes.txt", "is not a SQLite database"),
        ["path: a directory as the database"] = UpUrl("sqlite:///{dir}/a-directory", "is a directory, not a database file"),
        ["path: a directory that does not exist"] = UpUrl("sqlite:///{dir}/no-such-dir/timetrack.db", "does not exist (is the volume mounted?)"),

        // ---- Versions ----------------------------------------------------------------------
        ["version: negative"] = Sqlite(["up", "--to", "-5", "--database-url", "{url}"], "-5"),
        ["version: huge"] = Sqlite(["up", "--to", "99999999999999999999", "--database-url", "{url}"], "99999999999999999999"),
        ["version: not a number"] = Sqlite(["stamp", "abc", "--database-url", "{url}"], "'abc' is not a version number"),
        ["version: 'head ' with a space"] = Sqlite(["rollback", "--to", "head ", "--database-url", "{url}"], "head"),
        ["version: one that does not exist"] = Sqlite(["up", "--to", "1", "--database-url", "{url}"], "version 1 does not exist"),
        ["version: rollback --steps huge"] = Sqlite(["rollback", "--steps", "99999999999", "--database-url", "{url}"], "99999999999"),

        // ---- Secret files (*_FILE) --------------------------------------------------------
        ["file: only a password"] = UrlFile("{dir}/password-only", "no scheme followed by '://'"),
        ["file: a symlink to /etc/shadow"] = UrlFile("{dir}/shadow-link", "control character"),
        ["file: a NUL byte in the URL"] = UrlFile("{dir}/url-with-nul", "control character"),
        ["file: not UTF-8"] = UrlFile("{dir}/binary", "is not UTF-8 text"),
        ["file: larger than 64 KiB"] = UrlFile("{dir}/large", "is larger than 64 KiB"),
        ["file: empty"] = UrlFile("{dir}/empty", "is empty"),
        ["file: a directory"] = UrlFile("{dir}/a-directory", "is a directory"),
        ["file: a device (/dev/null)"] = UrlFile("/dev/null", "is a device"),
        ["file: does not exist"] = UrlFile("{dir}/no-such-file", "it does not exist (is the secret mounted?)"),
        ["file: the password file a directory"] = new(2, "DATABASE_PASSWORD_FILE: '{dir}/a-directory' is a directory",
            ["status"], new() { ["DATABASE_URL"] = "postgresql://u@h/db", ["DATABASE_PASSWORD_FILE"] = "{dir}/a-directory" }),
        ["file: both DATABASE_URL and the file"] = new(2, "both DATABASE_URL and DATABASE_URL_FILE are set",
            ["status"], new() { ["DATABASE_URL"] = "{url}", ["DATABASE_URL_FILE"] = "{dir}/password-only" }),

        // ---- Environment values -----------------------------------------------------------
        ["env: TIMETRACK_LOCK_TIMEOUT=-1"] = Env("TIMETRACK_LOCK_TIMEOUT", "-1", "--lock-timeout must be 0 or more seconds", "up"),
        ["env: TIMETRACK_LOCK_TIMEOUT=abc"] = Env("TIMETRACK_LOCK_TIMEOUT", "abc", "is not a whole number of seconds", "up"),
        ["env: TIMETRACK_LOCK_TIMEOUT=1e9"] = Env("TIMETRACK_LOCK_TIMEOUT", "1e9", "is not a whole number of seconds", "up"),
        ["env: TIMETRACK_WAIT=soon"] = Env("TIMETRACK_WAIT", "soon", "is not a whole number of seconds"),
        ["env: TIMETRACK_DDL_RETRIES=1000"] = Env("TIMETRACK_DDL_RETRIES", "1000", "must be from 0 to 100", "up"),
        ["env: TIMETRACK_LOG_FORMAT=xml"] = Env("TIMETRACK_LOG_FORMAT", "xml", "TIMETRACK_LOG_FORMAT from the environment is not text or json"),
        ["env: TIMETRACK_LOG_FORMAT=1"] = Env("TIMETRACK_LOG_FORMAT", "1", "TIMETRACK_LOG_FORMAT from the environment is not text or json"),
        ["env: TIMETRACK_DATABASE_URL malformed"] = new(2, "no scheme followed by '://'", ["status"], new() { ["TIMETRACK_DATABASE_URL"] = Secret }),
    };

    public static TheoryData<string> Names => new(Cases.Keys);

    [Theory]
    [MemberData(nameof(Names))]
    public async Task Each_bad_input_gives_one_line_and_its_exit_code_and_changes_nothing(string name)
    {
        var c = Cases[name];
        var db = c.On == DatabaseKind.Postgres ? fixture.Postgres : fixture.Sqlite;
        string Fill(string text) => text.Replace("{url}", db.Url, StringComparison.Ordinal).Replace("{dir}", fixture.Directory, StringComparison.Ordinal);
        var environment = c.Environment?.ToDictionary(e => e.Key, e => (string?)Fill(e.Value));
        var before = (Database: await db.FingerprintAsync(), Files: fixture.Listing(), Shadow: ShadowState());

        var result = await InProcessRunner.RunAsync([.. c.Args.Select(Fill)], environment, fixture.Directory);

        RunnerTestBase.ShouldFailWithOneLine(result, c.ExitCode, Fill(c.Expected));
        ShouldShowNothingOfTheSecretFiles(result, environment);
        (await db.FingerprintAsync()).ShouldBe(before.Database);
        fixture.Listing().ShouldBe(before.Files, "a file was created or removed next to the database");
        ShadowState().ShouldBe(before.Shadow, "/etc/shadow (or a journal beside it) was touched");
    }

    /// <summary>The matrix's inputs are at least the plus thirty.</summary>
    [Fact]
    public void The_matrix_holds_at_least_forty_inputs()
    {
        Cases.Count.ShouldBeGreaterThanOrEqualTo(40);
    }

    private static void ShouldShowNothingOfTheSecretFiles(ProcessResult result, IDictionary<string, string?>? environment)
    {
        result.Output.ShouldNotContain(Secret);
        foreach (var file in environment?.Where(e => e.Key.EndsWith("_FILE", StringComparison.Ordinal)).Select(e => e.Value!) ?? [])
        {
            if (File.Exists(file) && new FileInfo(file).Length is > 0 and < 1 << 20)
            {
                foreach (var line in File.ReadAllLines(file).Where(l => l.Length >= 6))
                {
                    result.Output.ShouldNotContain(line[..6], Case.Sensitive, $"the content of {file} was printed");
                }
            }
        }
    }

    /// <summary>/etc/shadow's bytes and what lies beside it: nothing may write to it or leave a journal.</summary>
    private static string ShadowState() =>
        !File.Exists("/etc/shadow") ? "(none)"
        : Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes("/etc/shadow"))) + " "
          + string.Join(",", Directory.GetFiles("/etc", "shadow*").Order(StringComparer.Ordinal)) + " " + File.GetLastWriteTimeUtc("/etc/shadow").Ticks;
}

/// <summary>A PostgreSQL and a SQLite database at the matrix's version, and a directory of hostile files.</summary>
public sealed class BadInputMatrixFixture : IAsyncLifetime
{
    public TestDatabase Postgres { get; private set; } = null!;

    public TestDatabase Sqlite { get; private set; } = null!;

    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("timetrack-bad-input-").FullName;

    public async Task InitializeAsync()
    {
        RunnerProcess.RegisterSecret(BadInputMatrixTests.Secret);
        Postgres = await TestDatabase.CreateAsync(DatabaseKind.Postgres, "badinput");
        Sqlite = await TestDatabase.CreateAsync(DatabaseKind.Sqlite);
        await Postgres.MigrateToAsync(RunnerTestBase.Versions[2]);
        await Sqlite.MigrateToAsync(RunnerTestBase.Versions[2]);

        File.WriteAllText(Path.Combine(Directory, "password-only"), BadInputMatrixTests.Secret + "\n");
        File.WriteAllText(Path.Combine(Directory, "url-with-nul"), $"postgresql://u:{BadInputMatrixTests.Secret}@h/db\0\n");
        File.WriteAllBytes(Path.Combine(Directory, "binary"), [0xC3, 0x28, 0xFF, 0xFE, 0x00, 0x41]);
        File.WriteAllText(Path.Combine(Directory, "large"), "postgresql://u:p@h/db?application_name=" + new string('x', 70_000));
        File.WriteAllText(Path.Combine(Directory, "empty"), "");
        File.WriteAllText(Path.Combine(Directory, "notes.txt"), "not a database, but a file someone cares about\n");
        System.IO.Directory.CreateDirectory(Path.Combine(Directory, "a-directory"));
        File.CreateSymbolicLink(Path.Combine(Directory, "shadow-link"), "/etc/shadow");
    }

    /// <summary>Every file and directory in <see cref="Directory"/>, with its size.</summary>
    public string Listing() => string.Join("\n", System.IO.Directory.EnumerateFileSystemEntries(Directory, "*", SearchOption.AllDirectories)
        .Order(StringComparer.Ordinal).Select(p => File.Exists(p) && !p.EndsWith("shadow-link", StringComparison.Ordinal) ? $"{p} {new FileInfo(p).Length}" : p));

    public async Task DisposeAsync()
    {
        await Postgres.DisposeAsync();
        await Sqlite.DisposeAsync();
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}
