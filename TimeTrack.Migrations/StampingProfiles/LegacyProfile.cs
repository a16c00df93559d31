namespace TimeTrack.Migrations.StampingProfiles;

/// <summary>Databases made by the old application's create_all(), before migrations existed (state 1).</summary>
public sealed class LegacyProfile : StampingProfile
{
    public override string Name => "legacy";

    public override long Version => 202406010900; // M202406010900_Baseline

    public override string Description => "the pre-migration schema created by the old application's create_all()";
}
