using System.CommandLine;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Settings;
using MnasNet.Training.Data;

namespace MnasNet.Cli.Commands.Search;

/// <summary>Base of the search commands: maps search, journal and config errors to exit codes.</summary>
public abstract class SearchCliCommand(string name, string description) : CliCommand(name, description)
{
    protected static Option<string> JournalDirectoryOption() => new("--journal-dir")
    {
        Description = $"Directory of the search journals (default: ${JournalFiles.DirectoryEnvironmentVariable} or ./{JournalFiles.DefaultDirectory}).",
        DefaultValueFactory = _ => JournalFiles.DefaultDirectoryFromEnvironment(),
    };

    protected static Argument<string> IdArgument() => new("id") { Description = "The search id (see 'mnasnet list')." };

    protected override int? ExitCodeFor(Exception e) => e switch
    {
        SettingsException => ExitCodes.InvalidInput,
        Actors.Policy.WarmStartException => ExitCodes.InvalidInput,
        SearchBusyException => ExitCodes.Busy,
        SearchNotFoundException => ExitCodes.NotFound,
        DatasetException d when d.Message.Contains("not found", StringComparison.OrdinalIgnoreCase) || d.Message.Contains("does not exist", StringComparison.Ordinal) || d.Message.Contains("has no", StringComparison.Ordinal) => ExitCodes.NotFound,
        DatasetException => ExitCodes.InvalidInput,
        JournalException or UnreadableEventException => ExitCodes.InvalidInput,
        JournalUnavailableException => ExitCodes.Failure,
        System.Runtime.Serialization.SerializationException => ExitCodes.InvalidInput,
        _ => base.ExitCodeFor(e),
    };
}
