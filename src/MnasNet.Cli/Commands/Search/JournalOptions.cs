using System.CommandLine;
using MnasNet.Actors.Journal;
using MnasNet.Audit;

namespace MnasNet.Cli.Commands.Replay;

/// <summary>Where the journal is: the search's SQLite file under --journal-dir (as for the other search commands), a file, or a connection.</summary>
internal sealed class JournalOptions
{
    public Option<string> Directory { get; } = new("--journal-dir")
    {
        Description = $"Directory of the search journals (default: ${JournalFiles.DirectoryEnvironmentVariable} or ./{JournalFiles.DefaultDirectory}).",
        DefaultValueFactory = _ => JournalFiles.DefaultDirectoryFromEnvironment(),
    };

    public Option<string?> File { get; } = new("--journal") { Description = "A SQLite journal file (instead of <journal-dir>/<id>.db)." };

    public Option<string?> Connection { get; } = new("--connection") { Description = "An Akka.Persistence.Sql connection string (with --provider), e.g. a PostgreSQL journal." };

    public Option<string> Provider { get; } = new("--provider") { Description = "Provider of --connection: sqlite or postgresql.", DefaultValueFactory = _ => JournalSource.Sqlite };

    public void AddTo(Command command)
    {
        command.Options.Add(Directory);
        command.Options.Add(File);
        command.Options.Add(Connection);
        command.Options.Add(Provider);
    }

    public JournalSource Resolve(ParseResult parseResult, string id)
    {
        if (parseResult.GetValue(Connection) is { Length: > 0 } connection)
        {
            try
            {
                return JournalSource.ForConnection(connection, parseResult.GetValue(Provider)!);
            }
            catch (ArgumentException e)
            {
                throw new CliInputException(e.Message);
            }
        }
        return parseResult.GetValue(File) is { Length: > 0 } file
            ? JournalSource.ForSqliteFile(file)
            : JournalSource.ForSearch(parseResult.GetValue(Directory)!, id);
    }
}
