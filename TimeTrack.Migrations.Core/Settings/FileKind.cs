using System.Runtime.InteropServices;

namespace TimeTrack.Migrations.Runner.Commands;

/// <summary>
/// What a path is (a regular file, a directory, a named pipe, a device, a socket), without
/// opening it: opening a named pipe blocks until something writes to it, and a device such as
/// /dev/zero never ends. .NET has no public API for the file type, so this asks Linux's statx,
/// whose layout is the same on every architecture; elsewhere (or when it fails) the type is unknown.
/// </summary>
public static class FileKind
{
    public const int Regular = 0x8000;
    public const int Directory = 0x4000;
    public const int NamedPipe = 0x1000;
    public const int CharacterDevice = 0x2000;
    public const int BlockDevice = 0x6000;
    public const int Socket = 0xC000;

    private const int AtCurrentDirectory = -100;
    private const uint StatxType = 0x1;
    private const int ModeOffset = 28; // struct statx: stx_mask, stx_blksize, stx_attributes, stx_nlink, stx_uid, stx_gid, then stx_mode (u16)

    /// <summary>The S_IFMT bits of <paramref name="path"/> (symbolic links followed), or null when unknown (no such file, not Linux).</summary>
    public static int? Of(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            return System.IO.Directory.Exists(path) ? Directory : null;
        }

        var buffer = new byte[256];
        try
        {
            var name = System.Text.Encoding.UTF8.GetBytes(path + "\0");
            return Statx(AtCurrentDirectory, name, 0, StatxType, buffer) == 0 ? BitConverter.ToUInt16(buffer, ModeOffset) & 0xF000 : null;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return System.IO.Directory.Exists(path) ? Directory : null; // a libc without statx (before glibc 2.28)
        }
    }

    /// <summary>"is a directory", "is a named pipe (FIFO)", …, for an error message.</summary>
    public static string Describe(int kind) => kind switch
    {
        Regular => "is a regular file",
        Directory => "is a directory",
        NamedPipe => "is a named pipe (FIFO)",
        CharacterDevice or BlockDevice => "is a device",
        Socket => "is a socket",
        _ => "is not a regular file",
    };

    // DllImport with only byte arrays: blittable, so NativeAOT compiles it without runtime marshalling.
#pragma warning disable SYSLIB1054 // LibraryImport needs unsafe code in this assembly for one call
    [DllImport("libc", EntryPoint = "statx")]
    private static extern int Statx(int directory, byte[] path, int flags, uint mask, [Out] byte[] buffer);
#pragma warning restore SYSLIB1054
}
