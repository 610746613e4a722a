using System.Data.Common;
using System.Globalization;
using LinqToDB.Interceptors;
using MnasNet.Actors.Settings;

namespace MnasNet.Actors.Timing;

/// <summary>A window of virtual time, in seconds after the search started, in which every journal write fails.</summary>
public sealed record JournalOutage(double FromSeconds, double Seconds)
{
    public double UntilSeconds => FromSeconds + Seconds;

    /// <summary>"36000+600,90000+1800" → two windows (start + length, virtual seconds); "" → none.</summary>
    /// <exception cref="SettingsException">Not pairs of a start ≥ 0 and a positive length.</exception>
    public static IReadOnlyList<JournalOutage> Parse(string spec, string key = "simulation.journalOutages") =>
        [.. spec.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(window =>
        {
            var parts = window.Split('+');
            return parts.Length == 2
                && double.TryParse(parts[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var from) && from >= 0 && double.IsFinite(from)
                && double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && seconds > 0 && double.IsFinite(seconds)
                ? new JournalOutage(from, seconds)
                : throw new SettingsException($"{key}: '{window}' is not START+SECONDS (virtual seconds after the search started, a start ≥ 0 and a positive length), e.g. \"36000+600\"");
        })];
}

/// <summary>A journal write refused because virtual time is inside a <see cref="JournalOutage"/>.</summary>
public sealed class JournalOutageException(string message) : Exception(message);

/// <summary>
/// Fails every statement that changes the journal or the snapshot store (INSERT, UPDATE, DELETE) while the virtual
/// clock is inside an outage window; reads go through, so a restarted controller recovers, and its first write tells
/// whether the outage is over. It sits in the real write path (linq2db, under Akka.Persistence.Sql), so the write
/// fails as a database that went away would: Akka.Persistence stops the controller, nothing of that write is kept.
/// </summary>
public sealed class JournalOutageInterceptor(SearchClock clock, DateTimeOffset origin, IReadOnlyList<JournalOutage> outages) : CommandInterceptor
{
    /// <summary>Writes refused so far.</summary>
    public int Refused => _refused;

    private int _refused;

    public override DbCommand CommandInitialized(CommandEventData eventData, DbCommand command)
    {
        var text = command.CommandText.TrimStart();
        if (text.StartsWith("INSERT", StringComparison.OrdinalIgnoreCase) || text.StartsWith("UPDATE", StringComparison.OrdinalIgnoreCase)
            || text.StartsWith("DELETE", StringComparison.OrdinalIgnoreCase))
        {
            var at = (clock.Now - origin).TotalSeconds;
            if (outages.FirstOrDefault(o => at >= o.FromSeconds && at < o.UntilSeconds) is { } outage)
            {
                Interlocked.Increment(ref _refused);
                throw new JournalOutageException(string.Create(CultureInfo.InvariantCulture,
                    $"journal outage (simulated) from {outage.FromSeconds:0.###} s to {outage.UntilSeconds:0.###} s of virtual time; the write came at {at:0.###} s"));
            }
        }
        return command;
    }
}
