using FluentMigrator.Runner;
using Microsoft.Extensions.DependencyInjection;

// The plainest way to run TimeTrack's migrations with FluentMigrator: build its runner from a
// service container and call MigrateUp(). bench/run.sh times this against `timetrack-migrate up`
// on a database that is already at head (the container-restart path).
// Usage: fluentmigrator-baseline "Host=...;Port=...;Username=...;Password=...;Database=..."
//        (or the connection string in the environment variable BASELINE_CONNECTION_STRING).
var connectionString = args.Length > 0 ? args[0] : Environment.GetEnvironmentVariable("BASELINE_CONNECTION_STRING");
if (string.IsNullOrWhiteSpace(connectionString))
{
    Console.Error.WriteLine("usage: fluentmigrator-baseline <Npgsql connection string>");
    return 2;
}

using var services = new ServiceCollection()
    .AddFluentMigratorCore()
    .ConfigureRunner(rb => rb
        .AddPostgres15_0()
        .WithGlobalConnectionString(connectionString)
        .ScanIn(typeof(TimeTrack.Migrations.Migrations.TimeTrackMigration).Assembly).For.All())
    .BuildServiceProvider(validateScopes: false);

using (var scope = services.CreateScope())
{
    scope.ServiceProvider.GetRequiredService<IMigrationRunner>().MigrateUp();
}

return 0;
