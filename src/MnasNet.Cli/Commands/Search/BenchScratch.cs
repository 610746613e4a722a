namespace MnasNet.Cli.Commands.Search;

/// <summary>A benchmark's working directory: the one given with <c>--dir</c> (kept), or a new temporary one (deleted on dispose).</summary>
internal sealed class BenchScratch : IDisposable
{
    private readonly bool _temporary;

    private BenchScratch(string path, bool temporary) => (Path, _temporary) = (path, temporary);

    public string Path { get; }

    public static BenchScratch Open(string? dir, string bench)
    {
        var scratch = new BenchScratch(dir ?? System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"mnasnet-bench-{bench}-{Environment.ProcessId}"), dir is null);
        Directory.CreateDirectory(scratch.Path);
        return scratch;
    }

    public void Dispose()
    {
        if (_temporary)
        {
            Directory.Delete(Path, recursive: true);
        }
    }
}
