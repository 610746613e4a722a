using System.Security.Cryptography;

namespace MnasNet.Training.Proxy;

/// <summary>
/// A network saved at the end of an epoch: the TorchSharp state file at <see cref="Path"/> (its SHA-256 in
/// <see cref="Sha256"/>) with the optimizer's state (<c>.optim</c>) and the weight generator's state (<c>.rng</c>)
/// beside it, so a run resumed from it continues exactly as the uninterrupted run would have.
/// </summary>
public sealed record EpochCheckpoint(int Epoch, double Accuracy, string Path, string Sha256)
{
    public string OptimizerPath => OptimizerPathOf(Path);

    public string RandomStatePath => RandomStatePathOf(Path);

    public static string OptimizerPathOf(string path) => path + ".optim";

    public static string RandomStatePathOf(string path) => path + ".rng";

    public static string HashOf(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    /// <exception cref="TrainingConfigurationException">A file is missing or the state file is not the one journaled.</exception>
    public void Verify()
    {
        foreach (var file in new[] { Path, OptimizerPath, RandomStatePath })
        {
            if (!File.Exists(file))
            {
                throw new TrainingConfigurationException($"checkpoint of epoch {Epoch}: '{file}' is missing");
            }
        }
        if (HashOf(Path) != Sha256)
        {
            throw new TrainingConfigurationException($"checkpoint of epoch {Epoch}: '{Path}' does not have the SHA-256 it was saved with");
        }
    }

    public void Delete()
    {
        foreach (var file in new[] { Path, OptimizerPath, RandomStatePath })
        {
            File.Delete(file);
        }
    }
}

/// <summary>
/// Epoch checkpoints of a run: written to <see cref="Directory"/> after every epoch's validation, each reported to
/// <see cref="OnEpoch"/>. A run with <see cref="ResumeFrom"/> loads it and continues at the epoch after it;
/// <see cref="BestSoFar"/> is the best checkpoint before it. <see cref="JournaledEpoch"/> says which epoch the caller
/// has made durable (null: every epoch before the one just saved): checkpoints from that epoch on and the best up to
/// it are kept, older ones deleted — so a run whose reports are no longer journaled (its controller gone) deletes
/// nothing the journal may still name.
/// </summary>
public sealed record CheckpointPlan(string Directory, EpochCheckpoint? ResumeFrom = null, EpochCheckpoint? BestSoFar = null, Action<EpochMetrics, EpochCheckpoint>? OnEpoch = null,
    Func<int>? JournaledEpoch = null)
{
    public string PathOf(int epoch) => System.IO.Path.Combine(Directory, $"epoch-{epoch:D4}.pt");
}
