using MnasNet.Cli;

namespace MnasNet.Cli.Tests;

/// <summary>Parses and invokes the real command tree in-process, capturing stdout and stderr.</summary>
internal static class CliRunner
{
    public sealed record Result(int ExitCode, string Output, string Error);

    public static async Task<Result> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await MnasNetCli.RunAsync(args, output, error, TestContext.Current.CancellationToken);
        return new Result(code, output.ToString(), error.ToString());
    }
}
