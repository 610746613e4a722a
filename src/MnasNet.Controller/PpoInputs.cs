using MnasNet.SearchSpace;

namespace MnasNet.Controller;

/// <summary>The input checks both PPO engines make, with the same messages.</summary>
internal static class PpoInputs
{
    public static void ValidateTokens(MnasNetSearchSpace space, IReadOnlyList<int>? tokens, int index)
    {
        if (tokens is null)
        {
            throw new ControllerException($"sample {index}: no tokens");
        }
        try
        {
            space.ValidateTokens(tokens);
        }
        catch (ArchitectureException e)
        {
            throw new ControllerException($"sample {index}: {e.Message}", e);
        }
    }

    public static void CheckCount(int count)
    {
        if (count is < 1 or > 100_000)
        {
            throw new ControllerException($"sample count must be between 1 and 100000, got {count}");
        }
    }
}
