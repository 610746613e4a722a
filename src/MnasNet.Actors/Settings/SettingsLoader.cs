using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace MnasNet.Actors.Settings;

/// <summary>A configuration problem, named precisely (key, file, value).</summary>
public sealed class SettingsException(string message) : Exception(message);

/// <summary>
/// Resolves <see cref="SearchSettings"/>: defaults, then the JSON file, then environment variables
/// (<c>MNASNET_SEARCH__reward__targetMs=2</c>: prefix, then the key path with "__" between levels), then
/// <c>--set key=value</c> in order. Every key must exist in the defaults and every value must have the default's
/// JSON type; then <see cref="SettingsValidation.Validate"/> rejects contradictory values.
/// </summary>
public static class SettingsLoader
{
    public const string EnvironmentPrefix = "MNASNET_SEARCH__";

    internal static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow,
    };

    public static SearchSettings Load(string? file, IEnumerable<string> sets, IReadOnlyDictionary<string, string>? environment = null)
    {
        var root = (JsonObject)JsonSerializer.SerializeToNode(new SearchSettings(), Json)!;
        var schema = (JsonObject)root.DeepClone();
        if (file is not null)
        {
            if (!File.Exists(file))
            {
                throw new FileNotFoundException($"config file '{file}' not found");
            }
            JsonNode? parsed;
            try
            {
                parsed = JsonNode.Parse(File.ReadAllText(file), documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            }
            catch (JsonException e)
            {
                throw new SettingsException($"config file '{file}': malformed JSON at line {e.LineNumber + 1}: {e.Message.Split(". Path")[0]}");
            }
            if (parsed is not JsonObject obj)
            {
                throw new SettingsException($"config file '{file}': expected a JSON object at the top level");
            }
            Overlay(root, schema, obj, "", $"config file '{file}'");
        }
        foreach (var (name, value) in (environment ?? ReadEnvironment()).OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (name.StartsWith(EnvironmentPrefix, StringComparison.Ordinal))
            {
                SetPath(root, schema, name[EnvironmentPrefix.Length..].Replace("__", ".", StringComparison.Ordinal), value, $"environment variable {name}");
            }
        }
        foreach (var set in sets)
        {
            var eq = set.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new SettingsException($"--set '{set}': expected key=value");
            }
            SetPath(root, schema, set[..eq].Trim(), set[(eq + 1)..], $"--set {set}");
        }
        SearchSettings settings;
        try
        {
            settings = root.Deserialize<SearchSettings>(Json)!;
        }
        catch (JsonException e)
        {
            throw new SettingsException($"config: {e.Message}");
        }
        return SettingsValidation.Validate(settings);
    }

    /// <summary>
    /// A journaled (or offered) search definition read back, run with <paramref name="node"/> (default: the
    /// defaults). Journals written before the split hold node options beside the definition: those are not this
    /// node's and are left out.
    /// </summary>
    public static SearchSettings FromJson(string json, NodeOptions? node = null) =>
        SettingsValidation.Validate(SearchSettings.Of(DefinitionFromJson(json), node ?? new NodeOptions()));

    /// <summary>A journaled search definition; one without <c>policy.engine</c> (written before it existed) means libtorch.</summary>
    public static SearchDefinition DefinitionFromJson(string json)
    {
        if (JsonNode.Parse(json) is not JsonObject root)
        {
            throw new SettingsException("journaled search definition: expected a JSON object");
        }
        foreach (var section in NodeOptions.Sections)
        {
            root.Remove(section);
        }
        // Searches journaled before policy.engine existed ran the libtorch controller; new configs default to managed.
        if (root["policy"] is not JsonObject policy)
        {
            root["policy"] = policy = new JsonObject();
        }
        if (!policy.ContainsKey("engine"))
        {
            policy["engine"] = MnasNet.Controller.ControllerEngines.Libtorch;
        }
        return root.Deserialize<SearchDefinition>(Json)!;
    }

    /// <summary>What is journaled and offered to workers: the search's definition, never this node's options.</summary>
    public static string DefinitionJson(SearchSettings settings)
    {
        if (settings.Latency.Predictor.Length > 0 || settings.Latency.MeasureTop != 1)
        {
            return JsonSerializer.Serialize(settings.Definition, Json);
        }
        // A search without a predictor journals the definition it did before predictors existed.
        var definition = JsonSerializer.SerializeToNode(settings.Definition, Json)!.AsObject();
        var latency = definition["latency"]!.AsObject();
        latency.Remove("predictor");
        latency.Remove("measureTop");
        return definition.ToJsonString(Json);
    }

    public static string NodeOptionsJson(NodeOptions node) => JsonSerializer.Serialize(node, Json);

    /// <summary>The whole settings as a configuration file (definition and node options) that <see cref="Load"/> reads.</summary>
    public static string ToJson(SearchSettings settings) => JsonSerializer.Serialize(settings, Json);

    private static Dictionary<string, string> ReadEnvironment()
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (System.Collections.DictionaryEntry e in Environment.GetEnvironmentVariables())
        {
            result[(string)e.Key] = (string?)e.Value ?? "";
        }
        return result;
    }

    /// <summary>The one section whose default is absent (null): checked by its own type, keys left out take its defaults.</summary>
    private const string RecipePath = "training.recipe";

    private static JsonNode? CheckRecipe(JsonNode? value, string origin)
    {
        if (value is null)
        {
            return null;
        }
        if (value is not JsonObject)
        {
            throw new SettingsException($"{origin}: key '{RecipePath}' must be an object (a training recipe) or null");
        }
        try
        {
            var recipe = value.Deserialize<MnasNet.Training.Proxy.TrainingRecipe>(MnasNet.Training.Proxy.TrainingRecipe.JsonOptions)!;
            return JsonSerializer.SerializeToNode(recipe.Validate($"{RecipePath}."), Json);
        }
        catch (JsonException e)
        {
            var where = e.Path is { Length: > 1 } p ? $" at {RecipePath}{p.TrimStart('$')}" : "";
            throw new SettingsException($"{origin}: key '{RecipePath}'{where}: {e.Message.Split(" Path:")[0]}");
        }
        catch (MnasNet.Training.Proxy.TrainingConfigurationException e)
        {
            throw new SettingsException($"{origin}: {e.Message}");
        }
    }

    private static void SetRecipeKey(JsonObject root, string key, string text, string origin)
    {
        var training = (JsonObject)root["training"]!;
        var recipe = training["recipe"] as JsonObject ?? (JsonObject)JsonSerializer.SerializeToNode(MnasNet.Training.Proxy.TrainingRecipe.Proxy, Json)!;
        var name = FindKey(recipe, key) ?? throw new SettingsException($"{origin}: unknown key '{RecipePath}.{key}'{Suggest(recipe, key, RecipePath)}");
        recipe[name] = ParseScalar(text, recipe[name]);
        training["recipe"] = CheckRecipe(recipe, origin);
    }

    private static void Overlay(JsonObject target, JsonObject schema, JsonObject source, string prefix, string origin)
    {
        foreach (var (key, value) in source)
        {
            var path = prefix.Length == 0 ? key : $"{prefix}.{key}";
            if (path == RecipePath)
            {
                target[key] = CheckRecipe(value?.DeepClone(), origin);
                continue;
            }
            if (!schema.TryGetPropertyValue(key, out var expected))
            {
                throw new SettingsException($"{origin}: unknown key '{path}'{Suggest(schema, key, prefix)}");
            }
            if (expected is JsonObject expectedObject)
            {
                if (value is not JsonObject sourceObject)
                {
                    throw new SettingsException($"{origin}: key '{path}' must be an object");
                }
                Overlay((JsonObject)target[key]!, expectedObject, sourceObject, path, origin);
                continue;
            }
            target[key] = CheckType(path, expected, value?.DeepClone(), origin);
        }
    }

    private static void SetPath(JsonObject root, JsonObject schema, string path, string text, string origin)
    {
        var parts = path.Split('.');
        if (parts.Length >= 2 && string.Equals(parts[0], "training", StringComparison.OrdinalIgnoreCase) && string.Equals(parts[1], "recipe", StringComparison.OrdinalIgnoreCase))
        {
            if (parts.Length == 3)
            {
                SetRecipeKey(root, parts[2], text, origin);
                return;
            }
            if (parts.Length == 2 && text is "null" or "")
            {
                ((JsonObject)root["training"]!)["recipe"] = null;
                return;
            }
            throw new SettingsException($"{origin}: '{path}': set one key of the recipe at a time ({RecipePath}.optimizer=rmsprop), or {RecipePath}=null");
        }
        JsonObject target = root, level = schema;
        for (var i = 0; i < parts.Length - 1; i++)
        {
            var key = FindKey(level, parts[i]) ?? throw new SettingsException($"{origin}: unknown key '{path}'{Suggest(level, parts[i], string.Join('.', parts[..i]))}");
            if (level[key] is not JsonObject next)
            {
                throw new SettingsException($"{origin}: '{string.Join('.', parts[..(i + 1)])}' is a value, not a section");
            }
            level = next;
            target = (JsonObject)target[key]!;
        }
        var last = FindKey(level, parts[^1]) ?? throw new SettingsException($"{origin}: unknown key '{path}'{Suggest(level, parts[^1], string.Join('.', parts[..^1]))}");
        var expected = level[last];
        if (expected is JsonObject)
        {
            throw new SettingsException($"{origin}: '{path}' is a section; set one of its keys ({string.Join(", ", ((JsonObject)expected).Select(kv => $"{path}.{kv.Key}"))})");
        }
        target[last] = CheckType(path, expected, ParseScalar(text, expected), origin);
    }

    private static string? FindKey(JsonObject obj, string key) =>
        obj.Select(kv => kv.Key).FirstOrDefault(k => string.Equals(k, key, StringComparison.OrdinalIgnoreCase));

    private static JsonNode? ParseScalar(string text, JsonNode? expected)
    {
        var kind = expected?.GetValueKind();
        if (kind == JsonValueKind.String)
        {
            return JsonValue.Create(text);
        }
        if (text is "null" or "")
        {
            return null;
        }
        try
        {
            return JsonNode.Parse(text);
        }
        catch (JsonException)
        {
            return JsonValue.Create(text);
        }
    }

    private static readonly Dictionary<string, IReadOnlyList<string>> EnumWords = new()
    {
        ["mode"] = SettingWords.Words<SearchMode>(),
        ["reward.preset"] = SettingWords.Words<RewardExponents>(),
        ["simulation.clock"] = SettingWords.Words<SimulationClock>(),
    };

    /// <summary>The value must have the default's JSON type; nullable (default null) numbers accept numbers.</summary>
    private static JsonNode? CheckType(string path, JsonNode? expected, JsonNode? value, string origin)
    {
        var expectedKind = expected?.GetValueKind() ?? JsonValueKind.Null;
        var actualKind = value?.GetValueKind() ?? JsonValueKind.Null;
        var ok = (expectedKind, actualKind) switch
        {
            (JsonValueKind.True or JsonValueKind.False, JsonValueKind.True or JsonValueKind.False) => true,
            (JsonValueKind.Number, JsonValueKind.Number) => true,
            (JsonValueKind.String, JsonValueKind.String) => true,
            (JsonValueKind.Null, JsonValueKind.Number or JsonValueKind.Null) => true,
            (JsonValueKind.Number, JsonValueKind.Null) => NullableNumbers.Contains(path),
            _ => false,
        };
        if (!ok)
        {
            var want = expectedKind switch
            {
                JsonValueKind.True or JsonValueKind.False => "true or false",
                JsonValueKind.Number or JsonValueKind.Null => "a number",
                JsonValueKind.String => "a string",
                _ => expectedKind.ToString(),
            };
            throw new SettingsException($"{origin}: key '{path}' must be {want}, got {Describe(value)}");
        }
        if (EnumWords.TryGetValue(path, out var words) && !words.Contains(value!.GetValue<string>()))
        {
            throw new SettingsException($"{origin}: {path} '{value.GetValue<string>()}': expected one of {string.Join(", ", words)}");
        }
        if (actualKind == JsonValueKind.Number && IntegerKeys.Contains(path) && !IsInteger(value!))
        {
            throw new SettingsException($"{origin}: key '{path}' must be a whole number, got {value!.ToJsonString()}");
        }
        return value;
    }

    private static bool IsInteger(JsonNode value) =>
        double.TryParse(value.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && Math.Floor(d) == d && !value.ToJsonString().Contains('.', StringComparison.Ordinal);

    private static string Describe(JsonNode? value) => value is null ? "null" : value.GetValueKind() switch
    {
        JsonValueKind.String => $"\"{value.GetValue<string>()}\"",
        _ => value.ToJsonString(),
    };

    private static string Suggest(JsonObject level, string key, string prefix)
    {
        var names = level.Select(kv => kv.Key).ToList();
        var close = names.FirstOrDefault(n => n.Contains(key, StringComparison.OrdinalIgnoreCase) || key.Contains(n, StringComparison.OrdinalIgnoreCase));
        var p = prefix.Length == 0 ? "" : prefix + ".";
        return close is not null ? $" (did you mean '{p}{close}'?)" : $" (known keys: {string.Join(", ", names.Select(n => p + n))})";
    }

    private static readonly HashSet<string> NullableNumbers = ["reward.alpha", "reward.beta", "dataset.trainSize", "dataset.validationSize", "dataset.resolution"];

    private static readonly HashSet<string> IntegerKeys =
    [
        "seed", "threads", "batchSize", "batches", "policy.epochs", "dataset.trainSize", "dataset.validationSize", "dataset.resolution",
        "training.epochs", "training.batchSize", "latency.resolution", "latency.warmup", "latency.runs", "journal.snapshotEvery",
        "workers.trainers", "workers.devices", "workers.maxAttempts", "simulation.infrastructureFaultAttempts",
    ];
}
