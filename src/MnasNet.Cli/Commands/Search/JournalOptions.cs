using System.CommandLine;
using MnasNet.Actors.Journal;
using MnasNet.Actors.Settings;
using MnasNet.Audit;

namespace MnasNet.Cli.Commands.Search;

/// <summary>Which journal a read-side command reads, resolved from its options (and --config).</summary>
internal sealed record JournalChoice(string Provider, string Directory, string? SqliteFile, string ConnectionStringFile)
{
    /// <summary>
    /// Explicit options win, then the settings file's journal.*, then the defaults (sqlite, $MNASNET_JOURNAL_DIR or
    /// ./searches, $MNASNET_PG_CONNECTION). Contradictions are errors, not guesses.
    /// </summary>
    public static JournalChoice Resolve(string? provider, string? directory, string? sqliteFile, string? connectionStringFile, JournalSettings? config)
    {
        var chosen = (provider ?? config?.Provider ?? JournalSource.Sqlite).ToLowerInvariant() switch
        {
            JournalSource.Sqlite => JournalSource.Sqlite,
            JournalSource.PostgreSql or "postgres" => JournalSource.PostgreSql,
            _ => throw new CliInputException($"journal provider '{provider}': expected {JournalSource.Sqlite} or {JournalSource.PostgreSql}"),
        };
        if (chosen == JournalSource.PostgreSql && sqliteFile is not null)
        {
            throw new CliInputException($"--journal {sqliteFile} is a SQLite file: it cannot be read with --provider {JournalSource.PostgreSql}");
        }
        if (chosen == JournalSource.Sqlite && connectionStringFile is not null)
        {
            throw new CliInputException($"--connection-string-file is for --provider {JournalSource.PostgreSql} (the journal provider here is {JournalSource.Sqlite})");
        }
        return new JournalChoice(chosen, directory ?? config?.Directory ?? JournalFiles.DefaultDirectoryFromEnvironment(), sqliteFile,
            connectionStringFile ?? config?.ConnectionStringFile ?? "");
    }

    /// <summary>The PostgreSQL connection string: from the file if one is named, else $MNASNET_PG_CONNECTION.</summary>
    public string PostgresConnectionString(Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        if (ConnectionStringFile.Length == 0 && string.IsNullOrWhiteSpace(environment(PostgresJournal.ConnectionEnvironmentVariable)))
        {
            throw new CliInputException(
                $"no PostgreSQL connection string: set {PostgresJournal.ConnectionEnvironmentVariable} or pass --connection-string-file FILE (a file holding it; never the command line)");
        }
        if (ConnectionStringFile.Length > 0 && !File.Exists(ConnectionStringFile))
        {
            throw new CliInputException($"connection string file '{ConnectionStringFile}' not found", ExitCodes.NotFound);
        }
        return PostgresJournal.ConnectionString(new JournalSettings { Provider = Provider, ConnectionStringFile = ConnectionStringFile }, environment);
    }

    public ISearchJournals Open() => Provider == JournalSource.PostgreSql
        ? new PostgresSearchJournals(PostgresConnectionString())
        : new SqliteSearchJournals(Directory);

    /// <summary>
    /// Where Akka.Persistence.Query reads one search (replay, journal export). For PostgreSQL the search is looked up
    /// first, so an unreachable server or an unknown id is one clear error before an actor system starts.
    /// </summary>
    public JournalSource Source(string id)
    {
        if (Provider == JournalSource.Sqlite)
        {
            return SqliteFile is not null ? JournalSource.ForSqliteFile(SqliteFile) : JournalSource.ForSearch(Directory, id);
        }
        var journals = new PostgresSearchJournals(PostgresConnectionString());
        return journals.Find(id) is null
            ? throw journals.NotFound(id)
            : new JournalSource(journals.ConnectionString, JournalSource.PostgreSql, journals.Location);
    }
}

/// <summary>
/// The journal options of every read-side command (status, list, report, export-trial, replay, journal export), so
/// one way selects a journal everywhere: SQLite files under --journal-dir by default, or a cluster's PostgreSQL
/// journal with --provider postgresql (connection string from $MNASNET_PG_CONNECTION or --connection-string-file; a
/// password never goes on the command line), or --config with the search's settings file.
/// </summary>
internal sealed class JournalOptions(bool withSqliteFile = false)
{
    public Option<string?> Directory { get; } = new("--journal-dir")
    {
        HelpName = "DIR",
        Description = $"Directory of the SQLite journals (<id>.db each) and of report output (default: journal.directory of --config, else ${JournalFiles.DirectoryEnvironmentVariable} or ./{JournalFiles.DefaultDirectory}).",
    };

    public Option<string?> File { get; } = new("--journal") { HelpName = "FILE.db", Description = "A SQLite journal file anywhere (instead of <journal-dir>/<id>.db)." };

    public Option<string?> Provider { get; } = new("--provider")
    {
        HelpName = $"{JournalSource.Sqlite}|{JournalSource.PostgreSql}",
        Description = $"Journal provider: {JournalSource.Sqlite} (files under --journal-dir) or {JournalSource.PostgreSql} (a cluster's journal; connection string from ${PostgresJournal.ConnectionEnvironmentVariable} or --connection-string-file). Default: journal.provider of --config, else {JournalSource.Sqlite}.",
    };

    public Option<string?> ConnectionStringFile { get; } = new("--connection-string-file")
    {
        HelpName = "FILE",
        Description = $"With --provider {JournalSource.PostgreSql}: a file holding the connection string (default: journal.connectionStringFile of --config, else ${PostgresJournal.ConnectionEnvironmentVariable}).",
    };

    public Option<string?> Config { get; } = new("--config")
    {
        HelpName = "FILE",
        Description = "The search's settings file (e.g. config/cluster.json): its journal.provider, journal.connectionStringFile and journal.directory are the defaults of the journal options.",
    };

    public void AddTo(Command command)
    {
        command.Options.Add(Directory);
        if (withSqliteFile)
        {
            command.Options.Add(File);
        }
        command.Options.Add(Provider);
        command.Options.Add(ConnectionStringFile);
        command.Options.Add(Config);
    }

    public JournalChoice Resolve(ParseResult parseResult)
    {
        var config = parseResult.GetValue(Config) is { } file ? SettingsLoader.Load(file, []).Journal : null;
        return JournalChoice.Resolve(parseResult.GetValue(Provider), parseResult.GetValue(Directory),
            withSqliteFile ? parseResult.GetValue(File) : null, parseResult.GetValue(ConnectionStringFile), config);
    }
}
