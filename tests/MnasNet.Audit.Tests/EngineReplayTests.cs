using MnasNet.Actors.Settings;
using MnasNet.Cli;
using MnasNet.Controller;

namespace MnasNet.Audit.Tests;

/// <summary>A fresh LSTM PPO search on either engine replays with every sample and update verified bit for bit.</summary>
public sealed class EngineReplayTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData(ControllerEngines.Managed)]
    [InlineData(ControllerEngines.Libtorch)]
    public async Task A_search_replays_with_its_samples_and_updates_reproduced(string engine)
    {
        var settings = Searches.Settings(_dir.Path, $"engine-{engine}") with { Policy = new PolicySettings { Engine = engine } };
        await Searches.RunAsync(settings);

        var r = await InProcessCli.RunAsync("replay", settings.Id, "--journal-dir", _dir.Path, "--verify");

        Assert.True(r.ExitCode == ExitCodes.Success, r.Output + r.Error);
        Assert.Contains("3/3 batches re-sampled, 3/3 updates reproduced", r.Output, StringComparison.Ordinal);
    }
}
