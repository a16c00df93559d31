using System.Runtime.InteropServices;

namespace TimeTrack.Migrations.Runner.Output;

/// <summary>
/// The process's native environment (libc's environ). .NET keeps its own copy of the environment,
/// read at start: what OpenSSL reads, and what exec(3) passes on (<see cref="ProcessImage"/>), is
/// libc's; what <c>Process.Start</c> passes on is .NET's.
/// </summary>
public static partial class NativeEnvironment
{
    /// <summary>Sets the variable in libc's environment only (OpenSSL, exec); .NET's copy is left as it was.</summary>
    public static void Set(string name, string value) => _ = SetEnv(name, value, 1);

    /// <summary>Removes the variable from libc's environment only.</summary>
    public static void Unset(string name) => _ = UnsetEnv(name);

    /// <summary>Removes the variable from both, so that nothing this process starts or becomes sees it.</summary>
    public static void Forget(string name)
    {
        Unset(name);
        Environment.SetEnvironmentVariable(name, null);
    }

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnv(string name, string value, int overwrite);

    [LibraryImport("libc", EntryPoint = "unsetenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int UnsetEnv(string name);
}
