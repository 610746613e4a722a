using TorchSharp;

namespace MnasNet.Torch;

/// <summary>
/// TorchSharp passes a <see cref="Scalar"/>'s native handle to libtorch without keeping the managed object alive, so
/// an implicitly converted one (<c>t * 0.5</c>, <c>t.clamp(a, b)</c>, and the alpha of one-argument <c>add</c>/<c>sub</c>,
/// which TorchSharp converts from <c>1</c>) can be finalized — and its native memory freed — while libtorch still
/// reads it: under garbage collections on other threads that gave corrupt values and "Unknown scalar type" crashes.
/// Code that must not race passes these static scalars (always reachable) or a <c>using</c> local, never a literal.
/// </summary>
public static class KeptScalars
{
    /// <summary>The alpha TorchSharp's one-argument <c>add</c>/<c>sub</c> use (an Int64 1, valid for every dtype).</summary>
    public static Scalar One { get; } = 1.ToScalar();
}
