using System.Runtime.InteropServices;
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

        if (KindOf(path) is { } kind)
        {
            throw UserError.Invalid($"the backup {path} is {kind}, not a backup file");
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

    /// <summary>What a file that is not a regular one is ("a character device"); null for a regular file, or where the type cannot be read.</summary>
    internal static string? KindOf(string path)
    {
        // statx, not stat: its layout is the same on every Linux architecture (stx_mode at byte 28).
        var buffer = new byte[256];
        try
        {
            if (StatX(-100 /* AT_FDCWD */, path, 0, 0x1 /* STATX_TYPE */, buffer) != 0)
            {
                return null;
            }
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return null; // not Linux with glibc: the signature check below still refuses it
        }

        return (BitConverter.ToUInt16(buffer, 28) & 0xF000) switch
        {
            0x8000 => null,
            0x2000 => "a character device",
            0x6000 => "a block device",
            0x1000 => "a named pipe (FIFO)",
            0xC000 => "a socket",
            0x4000 => "a directory",
            _ => "not a regular file",
        };
    }

    [DllImport("libc", EntryPoint = "statx", SetLastError = true)]
    private static extern int StatX(int directory, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, [Out] byte[] buffer);
}
