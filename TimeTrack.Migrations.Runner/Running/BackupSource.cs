using TimeTrack.Migrations.Runner.Commands;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Runner.Output;

namespace TimeTrack.Migrations.Runner.Running;

/// <summary>
/// The file given to `restore`, checked before anything connects: a regular file that starts as
/// this database's backups do. /dev/zero, /dev/urandom or /dev/null read as an empty SQLite
/// database (SQLite takes a file of size 0 for one), and a pipe would never end: each is exit 2,
/// named, and nothing is opened or created.
/// </summary>
public static class BackupSource
{
    public static void Check(string path, DatabaseProvider provider)
    {
        if (Directory.Exists(path))
        {
            throw UserError.Invalid($"the backup {path} is a directory, not a backup file");
        }

        if (!File.Exists(path))
        {
            throw UserError.Invalid($"the backup file {path} does not exist");
        }

        if (FileKind.Of(path) is { } kind && kind != FileKind.Regular)
        {
            throw UserError.Invalid($"the backup {path} {FileKind.Describe(kind)}, not a backup file");
        }

        var (signature, format) = provider.BackupSignature;
        var head = new byte[signature.Length];
        int read;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1);
            read = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw UserError.Invalid($"the backup file {path} cannot be read: {e.Message}");
        }

        if (read == 0)
        {
            throw UserError.Invalid($"the backup file {path} is empty, not {format}");
        }

        if (read < head.Length || !head.AsSpan().SequenceEqual(signature))
        {
            throw UserError.Invalid($"the backup file {path} is not {format} (it does not start as one), so it is no {provider.Name} backup");
        }
    }
}
