using Akka.Actor;
using MnasNet.Actors.Backends;
using MnasNet.Actors.Protocol;
using MnasNet.Actors.Timing;

namespace MnasNet.Actors.Actors;

/// <summary>Computes rewards with the versioned formula and answers with every input, so the journal can prove it.</summary>
public sealed class RewardActor : ReceiveActor
{
    public RewardActor(SearchClock clock)
    {
        Receive<ComputeReward>(c =>
        {
            clock.Hold();
            Sender.Tell(new RewardReply(c.TrialId, MnasNetReward.Compute(c.Accuracy, c.Devices, c.Alpha, c.Beta, c.Failed) with { LatencySource = c.LatencySource }));
            clock.Release();
        });
    }

    public static Props Props(SearchClock? clock = null) => Akka.Actor.Props.Create(() => new RewardActor(clock ?? SearchClock.Real));
}
