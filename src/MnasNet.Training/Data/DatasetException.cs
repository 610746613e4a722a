namespace MnasNet.Training.Data;

/// <summary>A dataset that is missing, truncated, corrupt or inconsistent; the message names the file and the problem.</summary>
public sealed class DatasetException : Exception
{
    public DatasetException(string message) : base(message) { }

    public DatasetException(string message, Exception inner) : base(message, inner) { }

    public DatasetException() { }

    /// <summary>True when a file or directory the dataset needs does not exist (as opposed to being corrupt).</summary>
    public bool IsMissing { get; init; }

    public static DatasetException Missing(string message) => new(message) { IsMissing = true };
}
