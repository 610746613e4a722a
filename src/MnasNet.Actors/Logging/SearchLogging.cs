using MnasNet.Actors.Journal;
using MnasNet.Actors.Settings;
using Serilog;
using Serilog.Events;
using Serilog.Formatting.Compact;

namespace MnasNet.Actors.Logging;

/// <summary>
/// The process-wide Serilog logger of a search (Akka logs reach it through Akka.Logger.Serilog): console (plain
/// lines, off while the live view is shown), a rolling CLEF file and Seq when a URL is configured. Every event
/// carries SearchId; actor log calls add TrialId where they have one.
/// </summary>
public static class SearchLogging
{
    public static ILogger Create(SearchSettings settings, bool console)
    {
        var level = Enum.Parse<LogEventLevel>(settings.Logging.Level);
        var file = settings.Logging.File.Length > 0 ? settings.Logging.File : JournalFiles.LogFile(settings.Journal.Directory, settings.Id);
        var config = new LoggerConfiguration()
            .MinimumLevel.Is(level)
            .Enrich.WithProperty("SearchId", settings.Id)
            .Enrich.FromLogContext()
            .WriteTo.File(new CompactJsonFormatter(), file, rollingInterval: RollingInterval.Day, fileSizeLimitBytes: 64 << 20, rollOnFileSizeLimit: true, retainedFileCountLimit: 10);
        if (console && settings.Logging.Console)
        {
            config = config.WriteTo.Console(outputTemplate: "{Timestamp:HH:mm:ss} {Level:u3} {Message:lj}{NewLine}{Exception}", standardErrorFromLevel: LogEventLevel.Error);
        }
        if (settings.Logging.SeqUrl.Length > 0)
        {
            config = config.WriteTo.Seq(settings.Logging.SeqUrl, period: TimeSpan.FromMilliseconds(500));
        }
        return config.CreateLogger();
    }
}
