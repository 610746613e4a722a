using MnasNet.Cli;

namespace MnasNet.TestSupport;

/// <summary>Parses and invokes the real command tree in-process, capturing stdout and stderr.</summary>
public static class InProcessCli
{
    public sealed record Result(int ExitCode, string Output, string Error)
    {
        /// <summary>The one error line (asserts there is exactly one).</summary>
        public string ErrorLine => Assert.Single(Error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }

    public static async Task<Result> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await MnasNetCli.RunAsync(args, output, error, TestContext.Current.CancellationToken);
        return new Result(code, output.ToString(), error.ToString());
    }
}
