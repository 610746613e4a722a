using System.Net;
using System.Text;
using System.Text.Json;
using MnasNet.Actors.Hosting;
using MnasNet.Actors.Logging;
using Serilog;

namespace MnasNet.Actors.Tests;

[CollectionDefinition("global logger", DisableParallelization = true)]
public sealed class GlobalLoggerCollection;

/// <summary>A search's log events reach Seq's raw endpoint as CLEF with SearchId (and TrialId where relevant).</summary>
[Collection("global logger")]
public sealed class LoggingTests
{
    [Fact]
    public async Task Clef_events_with_search_and_trial_ids_reach_a_seq_endpoint_and_the_file()
    {
        using var dir = new TempDir();
        var port = FreePort();
        using var listener = new HttpListener();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener.Start();
        var bodies = new List<string>();
        var contentTypes = new List<string?>();
        var serve = Task.Run(async () =>
        {
            while (listener.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await listener.GetContextAsync();
                }
                catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
                {
                    return;
                }
                using (var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8))
                {
                    var body = await reader.ReadToEndAsync();
                    lock (bodies)
                    {
                        bodies.Add($"{context.Request.Url!.AbsolutePath}\n{body}");
                        contentTypes.Add(context.Request.ContentType);
                    }
                }
                context.Response.StatusCode = 201;
                context.Response.Close();
            }
        });

        var settings = Simulated.Settings(dir.Path, "logged", batchSize: 4, batches: 2) with
        {
            Simulation = new() { FailureRate = 0.5 },
            Logging = new() { Level = "Debug", SeqUrl = $"http://127.0.0.1:{port}", Console = false },
        };
        Log.Logger = SearchLogging.Create(settings, console: false);
        try
        {
            Assert.Equal("completed", (await SearchRunner.RunAsync(settings, resume: false)).Status);
        }
        finally
        {
            await Log.CloseAndFlushAsync();
        }
        listener.Stop();
        await serve;

        string[] lines;
        lock (bodies)
        {
            Assert.All(bodies, b => Assert.StartsWith("/api/events/raw\n", b));
            Assert.Contains("application/vnd.serilog.clef", contentTypes.First());
            lines = bodies.SelectMany(b => b.Split('\n').Skip(1)).Where(l => l.StartsWith('{')).ToArray();
        }
        var events = lines.Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Contains(events, e => e.GetProperty("@mt").GetString()!.Contains("started", StringComparison.Ordinal));
        Assert.Contains(events, e => e.GetProperty("@mt").GetString()!.Contains("batch {Batch} done", StringComparison.Ordinal) && e.GetProperty("Hash").GetString()!.Length == 16);
        Assert.All(events, e => Assert.Equal("logged", e.GetProperty("SearchId").GetString()));
        var failure = events.First(e => e.GetProperty("@mt").GetString()!.Contains("failed ({Kind})", StringComparison.Ordinal));
        Assert.True(failure.GetProperty("TrialId").GetInt64() >= 0);
        Assert.Equal("Warning", failure.GetProperty("@l").GetString());

        var file = Directory.GetFiles(dir.Path, "logged-*.clef").Single();
        var fileLines = File.ReadAllLines(file);
        Assert.Contains(fileLines, l => l.Contains("\"SearchId\":\"logged\"", StringComparison.Ordinal) && l.Contains("\"TrialId\":", StringComparison.Ordinal));
    }

    private static int FreePort()
    {
        var l = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        l.Start();
        var port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }
}
