#!/usr/bin/env bash
# Generates and builds a benchmark-only migrations assembly with a long history (bench/scale.sh,
# case 1): N migrations of the kinds a real history has, in a cycle of four — a new table, a new
# column, an index, a column with a default — and a data step (an UPDATE) every fiftieth. Never
# part of TimeTrack.sln, never shipped: it is written to and built in OUT_DIR.
#
# Usage: bash bench/generate-long-history.sh N OUT_DIR RUNNER [--no-manifest]
#   RUNNER: a timetrack-migrate executable; the build computes the assembly's manifest with it and
#   embeds it (build/TimeTrack.Migrations.Manifest.targets, as a team's migrations project imports
#   it: no manual step). --no-manifest leaves it out: the runner then renders every checksum at
#   start (what the manifest avoids).
# Prints the path of the built assembly.
set -euo pipefail

[ "$#" -ge 3 ] || { echo "usage: $0 N OUT_DIR RUNNER [--no-manifest]" >&2; exit 2; }
COUNT="$1"
OUT="$2"
RUNNER="$3"
MANIFEST=1
[ "${4:-}" = "--no-manifest" ] && MANIFEST=""
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if ! [[ "$COUNT" =~ ^[0-9]+$ ]] || [ "$COUNT" -lt 4 ]; then
  echo "N must be a whole number of at least 4" >&2
  exit 2
fi

mkdir -p "$OUT/src"
SRC="$OUT/src"

# The migrations project references TimeTrack.Migrations (its base class, as a user's would) and
# imports the manifest targets, which write and embed the manifest on every build.
FROM_BUILD=true
[ -z "$MANIFEST" ] && FROM_BUILD=false
cat >"$SRC/LongHistory.csproj" <<XML
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <TargetFramework>net10.0</TargetFramework>
    <Nullable>enable</Nullable>
    <ImplicitUsings>enable</ImplicitUsings>
    <AssemblyName>TimeTrack.Bench.LongHistory</AssemblyName>
    <IsPackable>false</IsPackable>
    <TimeTrackMigrate>"$RUNNER"</TimeTrackMigrate>
    <TimeTrackManifestFromBuild>$FROM_BUILD</TimeTrackManifestFromBuild>
  </PropertyGroup>
  <Import Project="$ROOT/build/TimeTrack.Migrations.Manifest.targets" />
  <ItemGroup>
    <ProjectReference Include="$ROOT/TimeTrack.Migrations/TimeTrack.Migrations.csproj" />
  </ItemGroup>
</Project>
XML

# Versions 300001010000 + i: above every real one, in order. Table k is created by migration 4k+1;
# the three after it change that table.
awk -v n="$COUNT" 'BEGIN {
  print "using FluentMigrator;"
  print "using TimeTrack.Migrations.Migrations;"
  print ""
  print "namespace TimeTrack.Bench.LongHistory;"
  for (i = 1; i <= n; i++) {
    v = sprintf("%.0f", 300001010000 + i)
    k = int((i - 1) / 4)
    t = sprintf("bench_t%04d", k)
    kind = (i - 1) % 4
    print ""
    if (kind == 0) {
      printf "[Migration(%s, \"Create %s\")]\n", v, t
      printf "public sealed class M%s : TimeTrackMigration\n{\n", v
      printf "    public override void Up() => Create.Table(\"%s\")\n", t
      printf "        .WithColumn(\"id\").AsCustom(Sql.Integer).NotNullable().PrimaryKey(\"%s_pkey\")\n", t
      printf "        .WithColumn(\"name\").AsCustom(Sql.Varchar(100)).NotNullable();\n"
      printf "    public override void Down() => Delete.Table(\"%s\");\n}\n", t
    } else if (kind == 1) {
      printf "[Migration(%s, \"Add %s.note\")]\n", v, t
      printf "public sealed class M%s : TimeTrackMigration\n{\n", v
      printf "    public override void Up() => Alter.Table(\"%s\").AddColumn(\"note\").AsCustom(Sql.Varchar(200)).Nullable();\n", t
      printf "    public override void Down() => Delete.Column(\"note\").FromTable(\"%s\");\n}\n", t
    } else if (kind == 2) {
      printf "[Migration(%s, \"Index %s by name\")]\n", v, t
      printf "public sealed class M%s : TimeTrackMigration\n{\n", v
      printf "    public override void Up() => Create.Index(\"ix_%s_name\").OnTable(\"%s\").OnColumn(\"name\");\n", t, t
      printf "    public override void Down() => Delete.Index(\"ix_%s_name\").OnTable(\"%s\");\n}\n", t, t
    } else {
      printf "[Migration(%s, \"Add %s.rank\")]\n", v, t
      printf "public sealed class M%s : TimeTrackMigration\n{\n", v
      printf "    public override void Up()\n    {\n"
      printf "        Alter.Table(\"%s\").AddColumn(\"rank\").AsCustom(Sql.Integer).NotNullable().WithDefaultValue(0);\n", t
      if (i % 50 == 0) {
        # The data step: rows written by an earlier migration get a value from this one.
        printf "        Execute.Sql(\"INSERT INTO %s (id, name) VALUES (1, '\''first'\''), (2, '\''second'\'')\");\n", t
        printf "        Execute.Sql(\"UPDATE %s SET rank = id * 10\");\n", t
      }
      printf "    }\n"
      printf "    public override void Down() => Delete.Column(\"rank\").FromTable(\"%s\");\n}\n", t
    }
  }
}' >"$SRC/Migrations.cs"

build() {
  dotnet build "$SRC/LongHistory.csproj" -c Release -o "$OUT/bin" --artifacts-path "$OUT/artifacts" --nologo -v quiet >&2
}

build
ASSEMBLY="$OUT/bin/TimeTrack.Bench.LongHistory.dll"
[ -f "$ASSEMBLY" ] || { echo "no assembly at $ASSEMBLY" >&2; exit 1; }
if [ -n "$MANIFEST" ] && [ ! -f "$SRC/migrations.manifest" ]; then
  echo "the build wrote no manifest ($SRC/migrations.manifest)" >&2
  exit 1
fi
echo "$ASSEMBLY"
