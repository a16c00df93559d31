using System.CommandLine;
using Microsoft.Extensions.Logging;
using TimeTrack.Migrations.Runner.Databases;
using TimeTrack.Migrations.Runner.Output;
using TimeTrack.Migrations.Runner.Running;

namespace TimeTrack.Migrations.Runner.Commands;

/// <summary>
/// `restore FILE`: a backup written by --backup into an empty database (PostgreSQL: pg_restore
/// into a database made with createdb; SQLite: a new file), under the migration lock (a container
/// starting meanwhile waits, rather than migrating a half-restored database), then `status`.
/// </summary>
public static class RestoreCommand
{
    public static readonly Argument<string> File = new("file") { Description = "A backup written by --backup (PostgreSQL: pg_dump's custom format; SQLite: a database file)" };
    public static readonly Option<bool> Force = new("--force")
    {
        Description = "Restore into a database that is not empty, replacing what it holds in one transaction (PostgreSQL: its public schema); also a PostgreSQL backup that creates objects in other schemas. Restore only backups you trust",
    };

    public static Command Create()
    {
        var command = new Command("restore", "Restore a backup into an empty database (or a new SQLite file), then show its status") { File, Force };
        command.SetAction((parse, cancel) => Handler.RunAsync(parse, ctx => RunAsync(ctx, parse.GetValue(File)!, parse.GetValue(Force), cancel)));
        return command;
    }

    public static async Task<int> RunAsync(CommandContext ctx, string file, bool force, CancellationToken cancel)
    {
        var path = ctx.Terminal.FullPath(file);
        BackupSource.Check(path, ctx.Target.Provider);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        await using (var database = await ctx.ConnectAsync(cancel))
        await using (await database.AcquireMigrationLockAsync(ctx.Settings.LockTimeout, m => ctx.Log.LogInformation("{Message}", m), cancel))
        {
            var schema = await database.ReadSchemaAsync(cancel);
            if (!schema.IsEmpty)
            {
                if (!force)
                {
                    throw new UserError(ExitCode.Refused,
                        $"the database is not empty ({schema.Tables.Count} table(s)): a backup is restored into an empty database " +
                        "(PostgreSQL: a new one made with createdb; SQLite: a new file). Nothing was changed. To replace its contents, pass --force");
                }

                ctx.Log.LogWarning("FORCED: replacing the contents of {Database} ({Tables} table(s)) with the backup (--force)", ctx.Target.Display, schema.Tables.Count);
            }

            try
            {
                await database.RestoreAsync(path, replace: !schema.IsEmpty, force, ctx.Terminal.Environment, cancel);
            }
            catch (BackupException e)
            {
                throw new UserError(ExitCode.MigrationFailed, e.Message, e);
            }

            ctx.Log.LogInformation("restored {File} into {Database} ({Milliseconds} ms)", path, ctx.Target.Display, clock.ElapsedMilliseconds);
        }

        return await StatusCommand.RunAsync(ctx, markdown: false, cancel);
    }
}
