using TimeTrack.Migrations.Runner.Schema;

namespace TimeTrack.Migrations.Tests.Schema;

public static class SchemaAssert
{
    /// <summary>The live schema (version table left out) equals the shipped model.</summary>
    public static void ShouldMatchModel(DatabaseSchema live) =>
        SchemaComparer.Compare(live, ModelReader.ReadShippedModel()).Render().ShouldBe("(no differences)");
}
