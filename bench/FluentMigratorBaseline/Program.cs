using FluentMigrator.Runner;
using Microsoft.Extensions.DependencyInjection;

// The plainest way to run TimeTrack's migrations with FluentMigrator: build its runner from a
// service container and call MigrateUp(). bench/run.sh times this against `timetrack-migrate up`
// on a database that is already at head (the container-restart path).
// Usage: fluentmigrator-baseline [--assembly PATH] ["Host=...;Port=...;Username=...;Password=...;Database=..."]
//        (or the connection string in the environment variable BASELINE_CONNECTION_STRING).
//        --assembly: another migrations assembly (bench/scale.sh: the generated long history).
var arguments = args.ToList();
var migrations = typeof(TimeTrack.Migrations.Migrations.TimeTrackMigration).Assembly;
if (arguments.IndexOf("--assembly") is var at and >= 0 && at + 1 < arguments.Count)
{
    migrations = System.Reflection.Assembly.LoadFrom(Path.GetFullPath(arguments[at + 1]));
    arguments.RemoveRange(at, 2);
}

var connectionString = arguments.Count > 0 ? arguments[0] : Environment.GetEnvironmentVariable("BASELINE_CONNECTION_STRING");
if (string.IsNullOrWhiteSpace(connectionString))
{
    Console.Error.WriteLine("usage: fluentmigrator-baseline [--assembly PATH] <Npgsql connection string>");
    return 2;
}

using var services = new ServiceCollection()
    .AddFluentMigratorCore()
    .ConfigureRunner(rb => rb
        .AddPostgres15_0()
        .WithGlobalConnectionString(connectionString)
        .ScanIn(migrations).For.All())
    .BuildServiceProvider(validateScopes: false);

using (var scope = services.CreateScope())
{
    scope.ServiceProvider.GetRequiredService<IMigrationRunner>().MigrateUp();
}

return 0;
