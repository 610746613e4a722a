using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace MnasNet.SearchSpace;

/// <summary>
/// The canonical, versioned JSON form of an architecture: fixed property order, no whitespace, invariant numbers.
/// The architecture id hashes exactly these bytes, so the form must never change within a format version.
/// </summary>
public static class ArchitectureJson
{
    public static string ToJson(Architecture arch, bool indented = false)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = indented }))
        {
            w.WriteStartObject();
            w.WriteString("format", Architecture.Format);
            w.WriteStartObject("stem");
            w.WriteNumber("channels", arch.Stem.Channels);
            w.WriteNumber("kernel", arch.Stem.Kernel);
            w.WriteNumber("stride", arch.Stem.Stride);
            w.WriteEndObject();
            w.WriteStartArray("blocks");
            foreach (var b in arch.Blocks)
            {
                w.WriteStartObject();
                w.WriteString("op", b.Op.ToToken());
                w.WriteNumber("expansion", b.Expansion);
                w.WriteNumber("kernel", b.Kernel);
                w.WriteNumber("se", b.SeRatio);
                w.WriteString("skip", b.Skip.ToToken());
                w.WriteNumber("channels", b.Channels);
                w.WriteNumber("layers", b.Layers);
                w.WriteNumber("stride", b.Stride);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartObject("head");
            w.WriteNumber("channels", arch.Head.Channels);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    public static string ComputeId(Architecture arch)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(ToJson(arch)));
        return "a" + Convert.ToHexStringLower(hash.AsSpan(0, 8));
    }

    /// <summary>Parses and validates; every error names the offending field.</summary>
    public static Architecture Parse(string json)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            throw new ArchitectureException($"not valid JSON: {e.Message}", e);
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new ArchitectureException("an architecture must be a JSON object");
            }
            if (root.TryGetProperty("format", out var format))
            {
                var f = format.ValueKind == JsonValueKind.String ? format.GetString() : format.ToString();
                if (f != Architecture.Format)
                {
                    throw new ArchitectureException($"format: unsupported '{f}' (this version reads {Architecture.Format})");
                }
            }
            var stem = Object(root, "stem", "stem");
            var head = Object(root, "head", "head");
            if (!root.TryGetProperty("blocks", out var blocks) || blocks.ValueKind != JsonValueKind.Array)
            {
                throw new ArchitectureException("blocks: missing or not an array");
            }
            var list = new List<BlockSpec>();
            var i = 0;
            foreach (var b in blocks.EnumerateArray())
            {
                var where = $"blocks[{i++}]";
                if (b.ValueKind != JsonValueKind.Object)
                {
                    throw new ArchitectureException($"{where}: must be an object");
                }
                CheckKnown(b, where, "op", "expansion", "kernel", "se", "skip", "channels", "layers", "stride");
                var op = OperationNames.ParseConvOp(String(b, "op", where), $"{where}.op");
                list.Add(new BlockSpec(
                    op,
                    OptionalInt(b, "expansion", where, 1),
                    Int(b, "kernel", where),
                    OptionalDouble(b, "se", where, 0),
                    OperationNames.ParseSkipOp(OptionalString(b, "skip", where, "identity"), $"{where}.skip"),
                    Int(b, "channels", where),
                    Int(b, "layers", where),
                    Int(b, "stride", where)));
            }
            CheckKnown(root, "architecture", "format", "stem", "blocks", "head", "name");
            CheckKnown(stem, "stem", "channels", "kernel", "stride");
            CheckKnown(head, "head", "channels");
            return new Architecture(
                new StemSpec(Int(stem, "channels", "stem"), OptionalInt(stem, "kernel", "stem", 3), OptionalInt(stem, "stride", "stem", 2)),
                list,
                new HeadSpec(OptionalInt(head, "channels", "head", 1280))).Validate();
        }
    }

    public static Architecture Load(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ArchitectureException($"cannot read architecture file '{path}': {e.Message}", e);
        }
        try
        {
            return Parse(text);
        }
        catch (ArchitectureException e)
        {
            throw new ArchitectureException($"{path}: {e.Message}", e);
        }
    }

    private static JsonElement Object(JsonElement parent, string name, string where)
    {
        if (!parent.TryGetProperty(name, out var e) || e.ValueKind != JsonValueKind.Object)
        {
            throw new ArchitectureException($"{where}: missing or not an object");
        }
        return e;
    }

    private static void CheckKnown(JsonElement obj, string where, params string[] known)
    {
        foreach (var p in obj.EnumerateObject())
        {
            if (!known.Contains(p.Name))
            {
                throw new ArchitectureException($"{where}: unknown property '{p.Name}' (known: {string.Join(", ", known)})");
            }
        }
    }

    private static int Int(JsonElement obj, string name, string where)
    {
        if (!obj.TryGetProperty(name, out var e))
        {
            throw new ArchitectureException($"{where}.{name}: missing");
        }
        if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt32(out var v))
        {
            throw new ArchitectureException($"{where}.{name}: must be an integer, got {e.GetRawText()}");
        }
        return v;
    }

    private static int OptionalInt(JsonElement obj, string name, string where, int fallback) =>
        obj.TryGetProperty(name, out _) ? Int(obj, name, where) : fallback;

    private static double OptionalDouble(JsonElement obj, string name, string where, double fallback)
    {
        if (!obj.TryGetProperty(name, out var e))
        {
            return fallback;
        }
        if (e.ValueKind != JsonValueKind.Number)
        {
            throw new ArchitectureException($"{where}.{name}: must be a number, got {e.GetRawText()}");
        }
        return double.Parse(e.GetRawText(), NumberStyles.Float, CultureInfo.InvariantCulture);
    }

    private static string String(JsonElement obj, string name, string where)
    {
        if (!obj.TryGetProperty(name, out var e))
        {
            throw new ArchitectureException($"{where}.{name}: missing");
        }
        if (e.ValueKind != JsonValueKind.String)
        {
            throw new ArchitectureException($"{where}.{name}: must be a string, got {e.GetRawText()}");
        }
        return e.GetString()!;
    }

    private static string OptionalString(JsonElement obj, string name, string where, string fallback) =>
        obj.TryGetProperty(name, out _) ? String(obj, name, where) : fallback;
}
