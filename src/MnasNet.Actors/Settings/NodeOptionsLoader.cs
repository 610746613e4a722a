using System.Reflection;
using Microsoft.Extensions.Configuration;

namespace MnasNet.Actors.Settings;

/// <summary>
/// Binds <see cref="NodeOptions"/> with Microsoft.Extensions.Configuration: defaults, then the options a search last
/// ran with on this machine (<paramref name="previous"/>, if the file exists), then a JSON file, then
/// environment variables (<c>MNASNET_NODE__workers__trainers=2</c>), then <c>--set key=value</c> (keys as in the
/// file, <c>workers.trainers</c>). Unknown keys and values of the wrong type are errors naming the key; a key of
/// the search's definition is an error saying it is journaled with the search.
/// </summary>
public static class NodeOptionsLoader
{
    public const string EnvironmentPrefix = "MNASNET_NODE__";

    public static NodeOptions Load(string? file, IEnumerable<string> sets, IReadOnlyDictionary<string, string>? environment = null, string? previous = null)
    {
        var builder = new ConfigurationBuilder();
        if (previous is not null && File.Exists(previous))
        {
            builder.AddJsonFile(Path.GetFullPath(previous), optional: true, reloadOnChange: false);
        }
        if (file is not null)
        {
            if (!File.Exists(file))
            {
                throw new FileNotFoundException($"config file '{file}' not found");
            }
            builder.AddJsonFile(Path.GetFullPath(file), optional: false, reloadOnChange: false);
        }
        if (environment is null)
        {
            builder.AddEnvironmentVariables(EnvironmentPrefix);
        }
        else
        {
            builder.AddInMemoryCollection(environment.Where(kv => kv.Key.StartsWith(EnvironmentPrefix, StringComparison.Ordinal))
                .Select(kv => KeyValuePair.Create(kv.Key[EnvironmentPrefix.Length..].Replace("__", ":", StringComparison.Ordinal), (string?)kv.Value)));
        }
        builder.AddInMemoryCollection(sets.Select(Pair));
        IConfigurationRoot configuration;
        try
        {
            configuration = builder.Build();
        }
        catch (InvalidDataException e)
        {
            throw new SettingsException($"config file '{file}': {e.Message}");
        }
        catch (FormatException e)
        {
            throw new SettingsException($"config file '{file}': malformed JSON: {e.Message}");
        }
        foreach (var section in configuration.GetChildren())
        {
            if (!NodeOptions.Sections.Contains(section.Key, StringComparer.OrdinalIgnoreCase))
            {
                throw new SettingsException(typeof(SearchDefinition).GetProperties().Any(p => string.Equals(p.Name, section.Key, StringComparison.OrdinalIgnoreCase))
                    ? $"'{section.Key}' is part of the search's definition, journaled when it started: only node options ({string.Join(", ", NodeOptions.Sections)}) can be given here"
                    : $"unknown key '{section.Key}' (node options: {string.Join(", ", NodeOptions.Sections)})");
            }
            CheckKeys(section, typeof(NodeOptions).GetProperty(section.Key, BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase)!.PropertyType, section.Key.ToLowerInvariant());
        }
        NodeOptions options;
        try
        {
            options = configuration.Get<NodeOptions>(o => o.ErrorOnUnknownConfiguration = true) ?? new NodeOptions();
        }
        catch (InvalidOperationException e)
        {
            throw new SettingsException($"node options: {KeyPaths(e.InnerException is { } inner ? $"{e.Message} {inner.Message}" : e.Message)}");
        }
        SettingsValidation.Validate(SearchSettings.Of(new SearchDefinition(), options));
        return options;
    }

    /// <summary>Every key must name a property (the binder's own error would name a type, not the key).</summary>
    private static void CheckKeys(IConfigurationSection section, Type type, string path)
    {
        foreach (var child in section.GetChildren())
        {
            var property = type.GetProperty(child.Key, BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase);
            var key = $"{path}.{child.Key}";
            if (property is null)
            {
                var known = type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Select(p => $"{path}.{char.ToLowerInvariant(p.Name[0])}{p.Name[1..]}");
                throw new SettingsException($"unknown key '{key}' (known keys: {string.Join(", ", known)})");
            }
            if (child.GetChildren().Any())
            {
                CheckKeys(child, property.PropertyType, $"{path}.{char.ToLowerInvariant(property.Name[0])}{property.Name[1..]}");
            }
        }
    }

    /// <summary>The binder names keys as <c>Workers:Trainers</c>; people write <c>workers.trainers</c>.</summary>
    private static string KeyPaths(string message) => System.Text.RegularExpressions.Regex.Replace(message, @"'([A-Za-z]+(?::[A-Za-z]+)+)'",
        m => $"'{string.Join('.', m.Groups[1].Value.Split(':').Select(part => char.ToLowerInvariant(part[0]) + part[1..]))}'");

    private static KeyValuePair<string, string?> Pair(string set)
    {
        var eq = set.IndexOf('=', StringComparison.Ordinal);
        if (eq <= 0)
        {
            throw new SettingsException($"--set '{set}': expected key=value");
        }
        return KeyValuePair.Create(set[..eq].Trim().Replace('.', ':'), (string?)set[(eq + 1)..]);
    }
}
