using MnasNet.Actors.Journal;
using MnasNet.Cli;

namespace MnasNet.Actors.Tests;

/// <summary>Each bad input: one clear error line, its exit code, and an untouched journal.</summary>
public sealed class BadInputTests : IClassFixture<BadInputTests.CompletedSearch>
{
    public sealed class CompletedSearch : IDisposable
    {
        public CompletedSearch()
        {
            var run = Cli.RunAsync("search", "--config", Simulated.WriteConfig(Dir, Simulated.Settings(Dir.Path, "done", batchSize: 4, batches: 2)), "--plain").GetAwaiter().GetResult();
            Assert.Equal(0, run.ExitCode);
            Events = JournalReader.ReadEvents(Dir.Path, "done").Count;
        }

        public TempDir Dir { get; } = new();

        public int Events { get; }

        public void Dispose() => Dir.Dispose();
    }

    private readonly CompletedSearch _done;

    public BadInputTests(CompletedSearch done) => _done = done;

    private string Dir => _done.Dir.Path;

    private async Task AssertFails(int exitCode, string message, params string[] args)
    {
        var r = await Cli.RunAsync(args);
        Assert.True(exitCode == r.ExitCode, $"exit {r.ExitCode}, stderr: {r.Error}");
        Assert.StartsWith("error: ", r.Error);
        Assert.Contains(message, r.Error);
        Assert.Equal(_done.Events, JournalReader.ReadEvents(Dir, "done").Count);
        Assert.False(JournalFiles.IsRunning(Dir, "done"));
    }

    private string Config(string name, string json)
    {
        var path = Path.Combine(Dir, name);
        File.WriteAllText(path, json);
        return path;
    }

    [Fact]
    public Task Malformed_config() => AssertFails(ExitCodes.InvalidInput, "malformed JSON", "search", "--config", Config("m.json", "{ \"batchSize\": "), "--set", $"journal.directory={Dir}");

    [Fact]
    public Task Unknown_key() => AssertFails(ExitCodes.InvalidInput, "unknown key 'worker'", "search", "--config", Config("u.json", "{ \"worker\": {} }"));

    [Fact]
    public Task Contradictory_config() => AssertFails(ExitCodes.InvalidInput, "contradicts mode 'real'", "search", "--set", "latency.backend=simulated", "--set", $"journal.directory={Dir}");

    [Fact]
    public Task Target_platform_no_local_device_satisfies() => AssertFails(ExitCodes.InvalidInput, "latency.target 'onnxruntime:threads=8' is not this machine's device",
        "search", "--id", "t8", "--set", "latency.target=onnxruntime:threads=8", "--set", $"journal.directory={Dir}", "--plain");

    [Fact]
    public Task Malformed_target_platform() => AssertFails(ExitCodes.InvalidInput, "unknown backend 'tensorrt'",
        "search", "--id", "tf", "--set", "latency.target=tensorrt", "--set", $"journal.directory={Dir}", "--plain");

    [Fact]
    public Task Missing_config_file() => AssertFails(ExitCodes.NotFound, "config file", "search", "--config", Path.Combine(Dir, "nope.json"));

    [Fact]
    public Task Unknown_search_id_for_status() => AssertFails(ExitCodes.NotFound, "no search 'ghost'", "status", "ghost", "--journal-dir", Dir);

    [Fact]
    public Task Unknown_search_id_for_resume() => AssertFails(ExitCodes.NotFound, "no search 'ghost'", "resume", "ghost", "--journal-dir", Dir);

    [Fact]
    public Task Existing_search_id_for_a_new_search() =>
        AssertFails(ExitCodes.InvalidInput, "already exists", "search", "--config", Simulated.WriteConfig(_done.Dir, Simulated.Settings(Dir, "done")), "--plain");

    [Fact]
    public Task Missing_dataset() =>
        AssertFails(ExitCodes.NotFound, "does not exist", "search", "--id", "real1", "--set", "dataset.spec=cifar10:/nonexistent/cifar", "--set", $"journal.directory={Dir}", "--plain");

    [Fact]
    public async Task Unwritable_journal_path()
    {
        var file = Path.Combine(Dir, "a-file");
        await File.WriteAllTextAsync(file, "x", TestContext.Current.CancellationToken);
        await AssertFails(ExitCodes.InvalidInput, "is not writable", "search", "--config", Simulated.WriteConfig(_done.Dir, Simulated.Settings(Path.Combine(file, "sub"), "w")), "--plain");
    }

    [Fact]
    public async Task Journal_locked_by_a_running_search()
    {
        using (JournalLock.Acquire(Dir, "done"))
        {
            var r = await Cli.RunAsync("resume", "done", "--journal-dir", Dir, "--plain");
            Assert.Equal(ExitCodes.Busy, r.ExitCode);
            Assert.Contains("search 'done' is running in another process", r.Error);
        }
        Assert.Equal(_done.Events, JournalReader.ReadEvents(Dir, "done").Count);
    }

    [Fact]
    public Task Pause_of_a_search_that_is_not_running() => AssertFails(ExitCodes.InvalidInput, "is not running (status: completed)", "pause", "done", "--journal-dir", Dir);

    [Fact]
    public Task Export_of_a_missing_trial() => AssertFails(ExitCodes.NotFound, "has no trial 99", "export-trial", "done", "--journal-dir", Dir, "--trial", "99", "--out", Path.Combine(Dir, "x"));

    [Fact]
    public Task Bad_set_syntax() => AssertFails(ExitCodes.InvalidInput, "expected key=value", "search", "--set", "batches");

    [Fact]
    public async Task Resume_of_a_completed_search_changes_nothing()
    {
        var r = await Cli.RunAsync("resume", "done", "--journal-dir", Dir, "--plain");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("completed", r.Output);
        Assert.Equal(_done.Events, JournalReader.ReadEvents(Dir, "done").Count);
    }
}
