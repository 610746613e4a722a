using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using MnasNet.Controller.Managed;

namespace MnasNet.Controller;

/// <summary>
/// What the two engines of strategy "ppo" share in their saved states: the options JSON and the payload layout
/// (options, update count, baseline, random state, Adam step, then per parameter its name, values and Adam moments),
/// under the engine's own header.
/// </summary>
public static class PpoStates
{
    /// <summary>
    /// Options as saved: <see cref="ControllerOptions.Engine"/> is left out when it is libtorch, so a libtorch state
    /// keeps the bytes it had before engines existed (and an absent Engine reads back as libtorch).
    /// </summary>
    private static readonly JsonSerializerOptions SavedOptions = new()
    {
        TypeInfoResolver = new DefaultJsonTypeInfoResolver
        {
            Modifiers =
            {
                info =>
                {
                    if (info.Type != typeof(ControllerOptions))
                    {
                        return;
                    }
                    foreach (var property in info.Properties)
                    {
                        if (property.Name == nameof(ControllerOptions.Engine))
                        {
                            property.ShouldSerialize = (_, value) => value as string != ControllerEngines.Libtorch;
                        }
                    }
                },
            },
        },
    };

    public static string OptionsJson(ControllerOptions options) => JsonSerializer.Serialize(options, SavedOptions);

    internal static ControllerOptions ReadOptions(BinaryReader r)
    {
        try
        {
            return JsonSerializer.Deserialize<ControllerOptions>(r.ReadString(), SavedOptions)
                ?? throw new ControllerException("PPO controller state: missing options");
        }
        catch (JsonException e)
        {
            throw new ControllerException($"PPO controller state: unreadable options ({e.Message})", e);
        }
    }

    /// <summary>The engine whose header <paramref name="state"/> carries, or null for another strategy's state.</summary>
    public static string? EngineOf(byte[] state)
    {
        var magic = state.Length >= ArchitectureSamplers.MagicLength ? System.Text.Encoding.ASCII.GetString(state, 0, ArchitectureSamplers.MagicLength) : "";
        return magic switch
        {
            PpoController.Magic => ControllerEngines.Libtorch,
            ManagedPpoController.Magic => ControllerEngines.Managed,
            _ => null,
        };
    }

    /// <summary>
    /// A warm start's state: the saved controller's parameters, Adam moments and update count under
    /// <paramref name="options"/> (the new search's hyper-parameters, seed, threads and engine), with the new search's
    /// sampling stream and no baseline. The source may come from either engine (the layout is the same, so the policy
    /// moves across); the network's sizes must be the same.
    /// </summary>
    public static byte[] WarmStart(byte[] source, ControllerOptions options)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var sourceMagic = EngineOf(source) switch
        {
            ControllerEngines.Libtorch => PpoController.Magic,
            ControllerEngines.Managed => ManagedPpoController.Magic,
            _ => throw new ControllerException("PPO controller state: not a PPO controller state (wrong header)"),
        };
        var (updates, learned) = StateCodec.Read(source, sourceMagic, ManagedPpoController.FormatVersion, "PPO controller", r =>
        {
            var saved = ReadOptions(r);
            if ((saved.LstmLayers, saved.HiddenSize, saved.EmbeddingSize) != (options.LstmLayers, options.HiddenSize, options.EmbeddingSize))
            {
                throw new ControllerException($"PPO controller state: its network ({saved.LstmLayers} LSTM layers, {saved.HiddenSize} hidden, {saved.EmbeddingSize} embedding) is not this search's ({options.LstmLayers}, {options.HiddenSize}, {options.EmbeddingSize})");
            }
            var count = r.ReadInt64();
            r.ReadBoolean();
            r.ReadDouble();
            StateCodec.ReadRandom(r);
            return (count, r.ReadBytes((int)(r.BaseStream.Length - r.BaseStream.Position)));
        });
        var targetMagic = options.Engine == ControllerEngines.Managed ? ManagedPpoController.Magic : PpoController.Magic;
        return StateCodec.Write(targetMagic, ManagedPpoController.FormatVersion, w =>
        {
            w.Write(OptionsJson(options));
            w.Write(updates);
            w.Write(false);
            w.Write(0.0);
            StateCodec.WriteRandom(w, new MnasNet.SearchSpace.SeededRandom(MnasNet.SearchSpace.SeededRandom.Derive(options.Seed, "controller-sample")));
            w.Write(learned);
        }, capacity: learned.Length + 4096);
    }
}
