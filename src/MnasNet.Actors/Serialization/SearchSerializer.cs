using System.Runtime.Serialization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Akka.Actor;
using Akka.Serialization;
using MnasNet.Actors.Protocol;

namespace MnasNet.Actors.Serialization;

/// <summary>
/// System.Text.Json for every <see cref="ISearchMessage"/>, with short versioned manifests instead of CLR type names,
/// so renaming a class never breaks replay. An unknown manifest (e.g. from a newer version) is a
/// <see cref="SerializationException"/> naming it.
/// </summary>
public sealed class SearchSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    public const int SerializerId = 6_260;

    public override int Identifier => SerializerId;

    public override byte[] ToBinary(object obj) => SearchJson.ToBinary(obj);

    public override object FromBinary(byte[] bytes, string manifest) => SearchJson.FromBinary(bytes, manifest);

    public override string Manifest(object o) => SearchJson.Manifest(o);
}

/// <summary>The serializer's pure half: also used to read journals without an actor system (status, report).</summary>
public static class SearchJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    private static readonly Dictionary<Type, string> Manifests = new()
    {
        [typeof(SearchStarted)] = "search-started.v1",
        [typeof(BatchSampled)] = "batch-sampled.v1",
        [typeof(TrialDispatched)] = "trial-dispatched.v1",
        [typeof(TrialLeaseExpired)] = "trial-lease-expired.v1",
        [typeof(TrialTrained)] = "trial-trained.v1",
        [typeof(LatencyMeasured)] = "latency-measured.v1",
        [typeof(TrialFailed)] = "trial-failed.v1",
        [typeof(RewardComputed)] = "reward-computed.v1",
        [typeof(LatencyPredicted)] = "latency-predicted.v1",
        [typeof(MeasurementSelected)] = "measure-selected.v1",
        [typeof(PolicyUpdated)] = "policy-updated.v1",
        [typeof(SearchPaused)] = "search-paused.v1",
        [typeof(SearchResumed)] = "search-resumed.v1",
        [typeof(SearchCompleted)] = "search-completed.v1",
        [typeof(FinalTrainingStarted)] = "final-training-started.v1",
        [typeof(FinalRunStarted)] = "final-run-started.v1",
        [typeof(FinalEpochCompleted)] = "final-epoch-completed.v1",
        [typeof(FinalTrained)] = "final-trained.v1",
        [typeof(FinalTrainingFailed)] = "final-training-failed.v1",
        [typeof(FinalRunPaused)] = "final-run-paused.v1",
        [typeof(SearchSnapshot)] = "search-snapshot.v1",
        [typeof(JournalHead)] = "journal-head.v1",
        [typeof(RequestWork)] = "request-work.v1",
        [typeof(WorkOffer)] = "work-offer.v1",
        [typeof(WithdrawWorkRequest)] = "withdraw-work-request.v1",
        [typeof(WorkDeclined)] = "work-declined.v1",
        [typeof(StartSearch)] = "start-search.v1",
        [typeof(StartFinalTraining)] = "start-final-training.v1",
        [typeof(CancelWork)] = "cancel-work.v1",
        [typeof(TrainingDone)] = "training-done.v1",
        [typeof(MeasurementDone)] = "measurement-done.v1",
        [typeof(WorkFailed)] = "work-failed.v1",
        [typeof(ComputeReward)] = "compute-reward.v1",
        [typeof(RewardReply)] = "reward-reply.v1",
        [typeof(PauseSearch)] = "pause-search.v1",
        [typeof(GetSearchStatus)] = "get-search-status.v1",
        [typeof(SearchProgress)] = "search-progress.v1",
        [typeof(SearchStopped)] = "search-stopped.v1",
        [typeof(FirstDispatch)] = "first-dispatch.v1",
        [typeof(CheckLeases)] = "check-leases.v1",
        [typeof(PauseGraceOver)] = "pause-grace-over.v1",
        [typeof(FinalEpochDone)] = "final-epoch-done.v1",
        [typeof(FinalEpochJournaled)] = "final-epoch-journaled.v1",
        [typeof(FinalTrainingDone)] = "final-training-done.v1",
        [typeof(FinalTrainingProgress)] = "final-training-progress.v1",
    };

    private static readonly Dictionary<string, Type> Types = Manifests.ToDictionary(kv => kv.Value, kv => kv.Key);

    public static IReadOnlyCollection<string> KnownManifests => Types.Keys;

    public static string Manifest(object o) => o is SerializedEvent s ? Manifest(s.Event)
        : Manifests.TryGetValue(o.GetType(), out var m)
        ? m
        : throw new SerializationException($"no manifest for {o.GetType().Name}: add it to SearchJson");

    public static byte[] ToBinary(object obj)
    {
        if (obj is SerializedEvent s)
        {
            return s.Payload;
        }
        _ = Manifest(obj);
        return JsonSerializer.SerializeToUtf8Bytes(obj, obj.GetType(), Options);
    }

    public static object FromBinary(byte[] bytes, string manifest)
    {
        if (!Types.TryGetValue(manifest, out var type))
        {
            throw new SerializationException($"unknown manifest '{manifest}': written by a newer or foreign version of MnasNet.Actors");
        }
        return JsonSerializer.Deserialize(bytes, type, Options) ?? throw new SerializationException($"'{manifest}': empty payload");
    }
}

/// <summary>
/// An event handed to the journal with its payload already serialized (when it was chained, see
/// <see cref="Journal.JournalChain.Seal"/>): stored under the event's own manifest with exactly those bytes, and read
/// back as the plain event.
/// </summary>
public sealed class SerializedEvent(ISearchEvent e, byte[] payload) : ISearchMessage
{
    public ISearchEvent Event { get; } = e;

    public byte[] Payload { get; } = payload;
}
