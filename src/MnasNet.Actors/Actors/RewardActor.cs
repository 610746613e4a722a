using Akka.Actor;
using MnasNet.Actors.Backends;
using MnasNet.Actors.Protocol;

namespace MnasNet.Actors.Actors;

/// <summary>Computes rewards with the versioned formula and answers with every input, so the journal can prove it.</summary>
public sealed class RewardActor : ReceiveActor
{
    public RewardActor()
    {
        Receive<ComputeReward>(c => Sender.Tell(new RewardReply(c.TrialId, MnasNetReward.Compute(c.Accuracy, c.Devices, c.Alpha, c.Beta, c.Failed))));
    }

    public static Props Props() => Akka.Actor.Props.Create(() => new RewardActor());
}
