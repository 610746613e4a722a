using Microsoft.Data.Sqlite;

namespace MnasNet.Actors.Journal;

/// <summary>A problem with the journal location or file (unwritable directory, corrupt database).</summary>
public sealed class JournalException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Another process is running this search (its lock file is held).</summary>
public sealed class SearchBusyException(string message) : Exception(message);

/// <summary>No journal exists for the search id.</summary>
public sealed class SearchNotFoundException(string message) : Exception(message);

/// <summary>
/// Where a search lives: one SQLite journal per search, &lt;dir&gt;/&lt;id&gt;.db (journal + snapshots, WAL mode), a lock
/// file &lt;id&gt;.lock held by the running process, a pause request file &lt;id&gt;.pause, the CLEF log and the
/// trained weights &lt;id&gt;.weights/.
/// </summary>
public static class JournalFiles
{
    public const string DefaultDirectory = "searches";
    public const string DirectoryEnvironmentVariable = "MNASNET_JOURNAL_DIR";

    public static string DefaultDirectoryFromEnvironment() =>
        Environment.GetEnvironmentVariable(DirectoryEnvironmentVariable) is { Length: > 0 } d ? d : DefaultDirectory;

    public static string Database(string directory, string id) => Path.Combine(directory, $"{id}.db");

    /// <summary>The node options a search last ran with here (not journaled): resume starts from them.</summary>
    public static string NodeOptionsFile(string directory, string id) => Path.Combine(directory, $"{id}.node.json");

    public static string LockFile(string directory, string id) => Path.Combine(directory, $"{id}.lock");

    public static string PauseFile(string directory, string id) => Path.Combine(directory, $"{id}.pause");

    public static string LogFile(string directory, string id) => Path.Combine(directory, $"{id}-.clef");

    public static string ConnectionString(string database) => new SqliteConnectionStringBuilder
    {
        DataSource = database,
        Mode = SqliteOpenMode.ReadWriteCreate,
        Pooling = true,
        DefaultTimeout = 30,
    }.ToString();

    /// <summary>Creates the directory and checks it is writable, with a message naming the path.</summary>
    public static void EnsureWritableDirectory(string directory)
    {
        try
        {
            Directory.CreateDirectory(directory);
            var probe = Path.Combine(directory, $".write-test-{Environment.ProcessId}");
            File.WriteAllText(probe, "");
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new JournalException($"journal directory '{directory}' is not writable: {e.Message}", e);
        }
    }

    /// <summary>Journal mode WAL (once per file, persistent): readers (status, report) never block the search.</summary>
    public static void EnableWal(string database)
    {
        try
        {
            using var connection = new SqliteConnection(ConnectionString(database));
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "PRAGMA journal_mode=WAL;";
            command.ExecuteNonQuery();
        }
        catch (SqliteException e)
        {
            throw new JournalException($"journal '{database}' cannot be opened: {e.Message}", e);
        }
    }

    /// <summary>Ids of the searches in a directory (one journal file each).</summary>
    public static IReadOnlyList<string> List(string directory) => Directory.Exists(directory)
        ? Directory.GetFiles(directory, "*.db").Select(f => Path.GetFileNameWithoutExtension(f)!).Order(StringComparer.Ordinal).ToList()
        : [];

    public static bool IsRunning(string directory, string id)
    {
        var path = LockFile(directory, id);
        if (!File.Exists(path))
        {
            return false;
        }
        try
        {
            using var probe = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
            return false;
        }
        catch (IOException)
        {
            return true;
        }
    }
}

/// <summary>
/// The running search's exclusive lock on its journal: an OS file lock (flock via FileShare.None), released by the
/// kernel when the process dies, even by SIGKILL, so a crashed search never stays "locked".
/// </summary>
public sealed class JournalLock : IDisposable
{
    private readonly FileStream _stream;

    private JournalLock(FileStream stream) => _stream = stream;

    public static JournalLock Acquire(string directory, string id)
    {
        var path = JournalFiles.LockFile(directory, id);
        try
        {
            var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            stream.SetLength(0);
            var pid = System.Text.Encoding.ASCII.GetBytes($"{Environment.ProcessId}\n");
            stream.Write(pid);
            stream.Flush();
            return new JournalLock(stream);
        }
        catch (IOException)
        {
            throw new SearchBusyException($"search '{id}' is running in another process (journal lock {path} is held); pause it with 'mnasnet pause {id}' or wait for it to finish");
        }
        catch (UnauthorizedAccessException e)
        {
            throw new JournalException($"cannot create lock file '{path}': {e.Message}", e);
        }
    }

    public void Dispose() => _stream.Dispose();
}
