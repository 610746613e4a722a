using System.CommandLine;
using System.Globalization;
using MnasNet.Actors.Journal;
using MnasNet.Audit;
using MnasNet.Cli.Commands.Search;

namespace MnasNet.Cli.Commands.Replay;

/// <summary><c>mnasnet journal …</c>: the raw journal for external tools.</summary>
public sealed class JournalCommand : Command
{
    public JournalCommand() : base("journal", "The event journal of a search, for external audit tools.")
    {
        Subcommands.Add(new JournalExportCommand());
    }
}

/// <summary><c>mnasnet journal export ID --out FILE.ndjson</c>: every event as one JSON line, read through Akka.Persistence.Query.</summary>
public sealed class JournalExportCommand : SearchCliCommand
{
    private readonly Argument<string> _id = IdArgument();
    private readonly JournalOptions _journal = new(withSqliteFile: true);
    private readonly Option<string> _out = new("--out") { Description = "The NDJSON file to write (one event a line: sequenceNr, manifest, timestamp, event).", Required = true };

    public JournalExportCommand() : base("export", "Write every event of a search as one JSON line (sequence number, manifest, timestamp, fields).")
    {
        Arguments.Add(_id);
        _journal.AddTo(this);
        Options.Add(_out);
    }

    protected override async Task<int> ExecuteAsync(ParseResult parseResult, TextWriter output, CancellationToken cancellationToken)
    {
        var id = parseResult.GetValue(_id)!;
        var path = parseResult.GetValue(_out)!;
        var read = await JournalQuery.ReadAsync(_journal.Resolve(parseResult).Source(id), id, cancellationToken: cancellationToken);
        if (Path.GetDirectoryName(Path.GetFullPath(path)) is { } dir)
        {
            Directory.CreateDirectory(dir);
        }
        int count;
        await using (var writer = new StreamWriter(path, append: false, new System.Text.UTF8Encoding(false)))
        {
            count = await JournalExport.WriteAsync(read, writer, cancellationToken);
        }
        await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"search {id}: {count} events written to {path}"));
        foreach (var gap in read.Gaps)
        {
            await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"warning: sequence numbers {gap.From}–{gap.To} are missing from the journal"));
        }
        return ExitCodes.Success;
    }

    protected override int? ExitCodeFor(Exception e) => e switch
    {
        UnreadableEventException or AuditInputException => ExitCodes.InvalidInput,
        UnauthorizedAccessException => ExitCodes.InvalidInput,
        _ => base.ExitCodeFor(e),
    };
}
