using System.Reflection;
using System.Text.Json.Serialization;

namespace MnasNet.Actors.Settings;

/// <summary>How a search trains and measures: for real (TorchSharp + a real latency backend) or simulated (surrogate, fast, deterministic).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<SearchMode>))]
public enum SearchMode
{
    [JsonStringEnumMemberName("real")]
    Real,

    [JsonStringEnumMemberName("simulated")]
    Simulated,
}

/// <summary>The reward's exponents: soft (α = β = −0.07), hard (α = 0, β = −1) or custom (reward.alpha and reward.beta given).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<RewardExponents>))]
public enum RewardExponents
{
    [JsonStringEnumMemberName("soft")]
    Soft,

    [JsonStringEnumMemberName("hard")]
    Hard,

    [JsonStringEnumMemberName("custom")]
    Custom,
}

/// <summary>The time a simulated search runs on: a discrete-event clock (virtual, the default) or the wall clock (real).</summary>
[JsonConverter(typeof(JsonStringEnumConverter<SimulationClock>))]
public enum SimulationClock
{
    [JsonStringEnumMemberName("virtual")]
    Virtual,

    [JsonStringEnumMemberName("real")]
    Real,
}

/// <summary>The words settings files use for enum values (the JSON names), for messages and validation.</summary>
public static class SettingWords
{
    public static string Word<T>(this T value) where T : struct, Enum =>
        typeof(T).GetField(value.ToString())?.GetCustomAttribute<JsonStringEnumMemberNameAttribute>()?.Name ?? value.ToString();

    public static IReadOnlyList<string> Words<T>() where T : struct, Enum => [.. Enum.GetValues<T>().Select(v => v.Word())];
}
