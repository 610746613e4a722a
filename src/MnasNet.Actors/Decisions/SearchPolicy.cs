using MnasNet.Actors.Policy;
using MnasNet.Actors.Protocol;
using MnasNet.Controller;

namespace MnasNet.Actors.Decisions;

/// <summary>
/// The search's strategy and what the journal holds of it: the live sampler, or — during and after recovery — the
/// newest journaled policy state with the samples drawn and the updates made since (journal.policyStateEvery), restored
/// only once the policy is needed, so nothing the journal already says is recomputed and only updates after the newest
/// state are re-run. Also the raw state journaled last, the base of the next journaled state
/// (stored as a difference to it). Owned by one controller; disposing it disposes the sampler.
/// </summary>
public sealed class SearchPolicy(string searchId, Func<byte[], IArchitectureSampler> restore) : IDisposable
{
    private IArchitectureSampler? _live;
    private (IReadOnlyList<PolicyCheckpoint> Chain, long Step, List<Since> Since)? _journaled;

    /// <summary>What happened to the policy after a journaled state: samples drawn, or an update whose state was not journaled.</summary>
    private abstract record Since;

    private sealed record Skipped(int Samples) : Since;

    private sealed record Updated(IReadOnlyList<ScoredSample> Feedback, PolicyUpdated Update) : Since;

    /// <summary>The raw policy state of the last journaled checkpoint (or snapshot).</summary>
    public byte[]? LastJournaledState { get; set; }

    /// <summary>Whether this journal holds policy states (journals written before them re-run every batch and update).</summary>
    public bool StatesJournaled { get; private set; }

    /// <summary>
    /// A journal without states re-derived on another platform: its updates came out within the tolerance, not bit for
    /// bit, so the policy versions no longer match the journal's.
    /// </summary>
    public bool Drifted { get; set; }

    public bool Exists => _live is not null || _journaled is not null;

    /// <summary>The sampler, restored from the journaled state first if recovery left one.</summary>
    public IArchitectureSampler Live
    {
        get
        {
            if (_journaled is { } journaled)
            {
                _journaled = null;
                _live = RestoreJournaled(journaled.Chain, journaled.Step);
                foreach (var since in journaled.Since)
                {
                    switch (since)
                    {
                        case Skipped k:
                            _live.SkipSamples(k.Samples);
                            break;
                        case Updated u:
                            Rerun(_live, u.Feedback, u.Update);
                            break;
                    }
                }
            }
            return _live ?? throw new InvalidOperationException("policy used before the search started");
        }
    }

    /// <summary>A new sampler (a new search, or a journal without states being re-derived from the start).</summary>
    public void Begin(IArchitectureSampler sampler, bool statesJournaled)
    {
        Drop();
        _live = sampler;
        StatesJournaled = statesJournaled;
    }

    /// <summary>Recovery from a snapshot: its state is the live policy and the base of the next journaled state.</summary>
    public void FromSnapshot(byte[] state, bool statesJournaled)
    {
        Drop();
        StatesJournaled = statesJournaled;
        LastJournaledState = state;
        _live = restore(state);
    }

    /// <summary>Recovery of a journaled state (search-started's or a policy update's): kept, decoded when needed.</summary>
    public void Journaled(PolicyCheckpoint checkpoint, long step)
    {
        // Checkpoints since the last whole one: decoding starts there (or at the last restored state) and applies the rest.
        IReadOnlyList<PolicyCheckpoint> chain = checkpoint.Base is not null && _journaled is { } pending ? [.. pending.Chain, checkpoint] : [checkpoint];
        Drop();
        StatesJournaled = true;
        _journaled = (chain, step, []);
    }

    /// <summary>Recovery of a batch sampled after the journaled state: its draws are skipped, not repeated.</summary>
    public void Skip(int samples)
    {
        if (_journaled is { } journaled)
        {
            journaled.Since.Add(new Skipped(samples));
        }
        else
        {
            Live.SkipSamples(samples);
        }
    }

    /// <summary>
    /// Recovery of an update that journaled no state (only a policy of exact arithmetic leaves one out): re-run once the
    /// policy is needed, unless a later journaled state makes it moot; it must give the journaled parameter hash.
    /// </summary>
    public void Rerun(IReadOnlyList<ScoredSample> feedback, PolicyUpdated update)
    {
        if (_journaled is { } journaled)
        {
            journaled.Since.Add(new Updated(feedback, update));
        }
        else
        {
            Rerun(Live, feedback, update);
        }
    }

    private void Rerun(IArchitectureSampler live, IReadOnlyList<ScoredSample> feedback, PolicyUpdated update)
    {
        if (PolicyReplay.Update(live, feedback, update) is { } m)
        {
            throw new JournalMismatchException($"journal of search {searchId}: policy update {update.Step} (re-run from the journaled state before it) gives {m.Expected}, journal has {m.Found}");
        }
    }

    private IArchitectureSampler RestoreJournaled(IReadOnlyList<PolicyCheckpoint> chain, long step)
    {
        var state = chain[0].Base is null ? null : LastJournaledState;
        try
        {
            foreach (var checkpoint in chain)
            {
                state = checkpoint.Decode(state);
            }
        }
        catch (InvalidDataException x)
        {
            throw new JournalMismatchException($"journal of search {searchId}: policy state of step {step}: {x.Message}");
        }
        LastJournaledState = state;
        return restore(state!);
    }

    private void Drop()
    {
        _live?.Dispose();
        _live = null;
        _journaled = null;
    }

    public void Dispose() => Drop();
}
