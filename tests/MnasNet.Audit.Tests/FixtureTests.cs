using MnasNet.Actors.Journal;
using MnasNet.Cli;

namespace MnasNet.Audit.Tests;

/// <summary>
/// Compatibility: Fixtures/journal-v1.db was written by this version's own search (see Fixtures/README.md); every
/// later version must keep replaying it with everything verified.
/// </summary>
public sealed class FixtureTests : IDisposable
{
    public const string FixtureId = "journal-v1";
    public const string RegenerateVariable = "MNASNET_REGENERATE_AUDIT_FIXTURE";

    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static string Fixture => Path.Combine(AppContext.BaseDirectory, "Fixtures", $"{FixtureId}.db");

    /// <summary>The settings the fixture is generated with: small (&lt; 200 KB, no snapshot), with failed trials.</summary>
    internal static Actors.Settings.SearchSettings Settings(string dir) =>
        Searches.Settings(dir, FixtureId, strategy: "ppo", batchSize: 4, batches: 3, snapshotEvery: 1000, failureRate: 0.25) with
        {
            // The fixture predates policy.engine: its journal has none, which means libtorch.
            Policy = new Actors.Settings.PolicySettings { Engine = Controller.ControllerEngines.Libtorch },
        };

    [Fact]
    public async Task The_committed_fixture_replays_with_everything_verified()
    {
        File.Copy(Fixture, JournalFiles.Database(_dir.Path, FixtureId));

        var r = await InProcessCli.RunAsync("replay", FixtureId, "--journal-dir", _dir.Path, "--verify");

        Assert.True(r.ExitCode == ExitCodes.Success, r.Output + r.Error);
        Assert.Contains("12/12 recomputed bit for bit", r.Output, StringComparison.Ordinal);
        Assert.Contains("3/3 batches re-sampled, 3/3 updates reproduced", r.Output, StringComparison.Ordinal);
        Assert.True(new FileInfo(Fixture).Length < 200_000);
    }

    [Fact]
    public async Task The_committed_fixture_resumes_with_its_definition_on_this_nodes_options()
    {
        File.Copy(Fixture, JournalFiles.Database(_dir.Path, FixtureId));

        var settings = Actors.Hosting.SearchRunner.SettingsOf(_dir.Path, FixtureId, new Actors.Settings.NodeOptions { Workers = new() { Trainers = 3 } });
        var resumed = await InProcessCli.RunAsync("resume", FixtureId, "--journal-dir", _dir.Path, "--plain", "--set", "workers.devices=2");

        // Written before the split, its search-started holds node options too: the definition is read, the node's are this node's.
        var started = Assert.IsType<Actors.Protocol.SearchStarted>(JournalReader.ReadFirstEvent(_dir.Path, FixtureId)!.Event);
        Assert.Contains("\"workers\"", started.SettingsJson, StringComparison.Ordinal);
        Assert.Equal(Actors.Settings.SettingsLoader.DefinitionFromJson(started.SettingsJson), settings.Definition);
        Assert.Equal((Settings(_dir.Path).Seed, "ppo", 4, 3), (settings.Seed, settings.Strategy, settings.BatchSize, settings.Batches));
        Assert.DoesNotContain("\"engine\"", started.SettingsJson, StringComparison.Ordinal);
        Assert.Equal(Controller.ControllerEngines.Libtorch, settings.Policy.Engine);
        Assert.Equal((3, _dir.Path), (settings.Workers.Trainers, settings.Journal.Directory));
        Assert.True(resumed.ExitCode == ExitCodes.Success, resumed.Output + resumed.Error);
        Assert.Contains("completed", resumed.Output, StringComparison.Ordinal);
    }

    /// <summary>
    /// Opt-in (<c>MNASNET_REGENERATE_AUDIT_FIXTURE=1</c>): runs the fixture's search again with this version, checks it
    /// writes the same trials, rewards and policy hashes as the committed file, and replaces the committed file.
    /// </summary>
    [Fact]
    public async Task Regenerate_the_fixture_when_asked()
    {
        Assert.SkipUnless(Environment.GetEnvironmentVariable(RegenerateVariable) == "1", $"set {RegenerateVariable}=1 to regenerate Fixtures/{FixtureId}.db");
        var database = await Searches.RunAsync(Settings(_dir.Path));
        Sql.Execute(database, "PRAGMA journal_mode=DELETE;");
        Sql.Execute(database, "VACUUM;");
        var source = Path.Combine(RepositoryRoot(), "tests", "MnasNet.Audit.Tests", "Fixtures", $"{FixtureId}.db");
        if (File.Exists(source))
        {
            Assert.Equal(Fingerprint(source), Fingerprint(database));
        }
        File.Copy(database, source, overwrite: true);
    }

    /// <summary>What a regenerated fixture must share with the committed one: the samples, rewards and updates (worker interleaving may reorder other events).</summary>
    private static List<string> Fingerprint(string database) => Sql.Rows(database)
        .Where(r => r.Manifest is "batch-sampled.v1" or "reward-computed.v1" or "policy-updated.v1")
        .Select(r => $"{r.Manifest}:{r.Payload.ToJsonString()}").Order(StringComparer.Ordinal).ToList();

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "MnasNet.Actors.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("MnasNet.Actors.sln not found above the test binaries");
    }
}
