using System.CommandLine;
using System.Text.Json;
using MnasNet.SearchSpace;

namespace MnasNet.Cli;

/// <summary>Base of every command: one class per command, errors become one line on stderr and an exit code.</summary>
public abstract class CliCommand : Command
{
    protected static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    protected CliCommand(string name, string description) : base(name, description)
    {
        SetAction(async (parseResult, cancellationToken) =>
        {
            var output = parseResult.InvocationConfiguration.Output;
            var error = parseResult.InvocationConfiguration.Error;
            try
            {
                return await ExecuteAsync(parseResult, output, cancellationToken);
            }
            catch (Exception e) when (ExitCodeFor(e) is { } code)
            {
                await error.WriteLineAsync($"error: {e.Message}");
                return code;
            }
        });
    }

    protected abstract Task<int> ExecuteAsync(ParseResult parseResult, TextWriter output, CancellationToken cancellationToken);

    /// <summary>The exit code for an expected failure; null lets the exception through (a bug).</summary>
    protected virtual int? ExitCodeFor(Exception e) => e switch
    {
        ArchitectureException => ExitCodes.InvalidInput,
        CliInputException c => c.ExitCode,
        FileNotFoundException or DirectoryNotFoundException => ExitCodes.NotFound,
        OperationCanceledException => ExitCodes.Cancelled,
        _ => null,
    };

    protected static async Task WriteJsonAsync<T>(TextWriter output, T value)
    {
        await output.WriteLineAsync(JsonSerializer.Serialize(value, Json));
    }
}

/// <summary>A user error detected by a command, with the exit code it deserves.</summary>
public sealed class CliInputException(string message, int exitCode = ExitCodes.InvalidInput) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}
