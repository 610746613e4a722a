namespace MnasNet.Actors.Backends;

/// <summary>
/// Keeps the values of the few most recently used keys (here: searches a worker node served). Not thread-safe:
/// callers that share one lock it.
/// </summary>
public sealed class RecentlyUsed<TValue>(int capacity, Action<TValue>? evicted = null)
{
    private readonly List<(string Key, TValue Value)> _entries = [];

    public IEnumerable<TValue> Values => _entries.Select(e => e.Value);

    public bool TryGet(string key, out TValue value)
    {
        var index = _entries.FindIndex(e => e.Key == key);
        if (index < 0)
        {
            value = default!;
            return false;
        }
        var found = _entries[index];
        _entries.RemoveAt(index);
        _entries.Add(found);
        value = found.Value;
        return true;
    }

    public void Add(string key, TValue value)
    {
        _entries.Add((key, value));
        if (_entries.Count > capacity)
        {
            evicted?.Invoke(_entries[0].Value);
            _entries.RemoveAt(0);
        }
    }

    public void Clear() => _entries.Clear();
}
