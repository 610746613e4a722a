namespace MnasNet.Cli;

/// <summary>Process exit codes; scripts rely on them, so values never change.</summary>
public static class ExitCodes
{
    public const int Success = 0;

    /// <summary>An unexpected failure (a bug or an environment problem); the message says what.</summary>
    public const int Failure = 1;

    /// <summary>The command line does not parse (System.CommandLine's own code).</summary>
    public const int UsageError = 2;

    /// <summary>An input is invalid: architecture, tokens, config value, file content.</summary>
    public const int InvalidInput = 3;

    /// <summary>Something named does not exist: file, dataset, search id.</summary>
    public const int NotFound = 4;

    /// <summary>A resource is held by someone else (a journal locked by a running search).</summary>
    public const int Busy = 5;

    /// <summary>An audit found a mismatch (replay --verify).</summary>
    public const int VerificationFailed = 6;

    /// <summary>The run was cancelled or paused by the user before it completed.</summary>
    public const int Cancelled = 130;
}
