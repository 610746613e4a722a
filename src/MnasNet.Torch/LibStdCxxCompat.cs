using System.Buffers.Binary;
using System.Text;

namespace MnasNet.Torch;

/// <summary>
/// Debian 12 ships libstdc++ up to GLIBCXX_3.4.30, but libLibTorchSharp.so (TorchSharp 0.107) asks for
/// GLIBCXX_3.4.32. Only one symbol, <c>_ZSt21ios_base_library_initv</c>, carries that version and no relocation
/// uses it, so the requirement can be marked weak (VER_FLG_WEAK in its Vernaux entry) and the loader accepts the
/// older libstdc++. The build copies the unpatched file back, so this runs at every start: idempotent, skipped where
/// libstdc++ already has the version, and failing with a clear message where another version is missing.
/// </summary>
public static class LibStdCxxCompat
{
    public const string TorchSharpLibrary = "libLibTorchSharp.so";
    public const string WeakenedVersion = "GLIBCXX_3.4.32";
    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const ushort VerFlgWeak = 0x2;

    private static readonly string[] LibStdCxxCandidates =
    [
        "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
        "/lib/x86_64-linux-gnu/libstdc++.so.6",
        "/usr/lib64/libstdc++.so.6",
        "/usr/lib/libstdc++.so.6",
    ];

    public enum Outcome
    {
        NotLinux,
        LibraryNotFound,
        SystemHasVersion,
        AlreadyPatched,
        Patched,
        NotRequired,
    }

    /// <summary>Patches every copy of the TorchSharp native library below <paramref name="directory"/>.</summary>
    public static IReadOnlyList<(string Path, Outcome Outcome)> PatchBuildOutput(string directory)
    {
        if (!OperatingSystem.IsLinux())
        {
            return [(directory, Outcome.NotLinux)];
        }
        var candidates = new[] { Path.Combine(directory, TorchSharpLibrary), Path.Combine(directory, "runtimes", "linux-x64", "native", TorchSharpLibrary) }
            .Where(File.Exists)
            .ToArray();
        if (candidates.Length == 0)
        {
            return [(directory, Outcome.LibraryNotFound)];
        }
        var systemVersions = SystemLibStdCxxVersions();
        return candidates.Select(p => (p, Patch(p, systemVersions))).ToArray();
    }

    /// <summary>The GLIBCXX_* version names the system libstdc++ defines (empty if none is found).</summary>
    public static IReadOnlySet<string> SystemLibStdCxxVersions()
    {
        var path = LibStdCxxCandidates.FirstOrDefault(File.Exists);
        if (path is null)
        {
            return new HashSet<string>();
        }
        var text = Encoding.Latin1.GetString(File.ReadAllBytes(path));
        var versions = new HashSet<string>();
        foreach (var prefix in new[] { "GLIBCXX_", "CXXABI_" })
        {
            var at = 0;
            while ((at = text.IndexOf(prefix, at, StringComparison.Ordinal)) >= 0)
            {
                var end = at + prefix.Length;
                while (end < text.Length && (char.IsAsciiDigit(text[end]) || text[end] == '.'))
                {
                    end++;
                }
                versions.Add(text[at..end].TrimEnd('.'));
                at = end;
            }
        }
        return versions;
    }

    public static Outcome Patch(string libraryPath, IReadOnlySet<string> systemVersions)
    {
        var bytes = File.ReadAllBytes(libraryPath);
        var needs = ReadLibStdCxxNeeds(bytes);
        if (needs.Count == 0)
        {
            return Outcome.NotRequired;
        }
        var missing = needs.Where(n => !systemVersions.Contains(n.Name)).ToList();
        if (missing.Count == 0)
        {
            return Outcome.SystemHasVersion;
        }
        var unfixable = missing.Where(n => n.Name != WeakenedVersion && (n.Flags & VerFlgWeak) == 0).Select(n => n.Name).ToList();
        if (unfixable.Count > 0)
        {
            throw new TorchLoadException(
                $"{libraryPath} needs {string.Join(", ", unfixable)} from libstdc++, which this system's libstdc++ " +
                $"(up to {NewestGlibCxx(systemVersions)}) does not have. " +
                "Install a newer libstdc++ (gcc 13 or later) or use a TorchSharp build made for this distribution.");
        }
        var target = missing.FirstOrDefault(n => n.Name == WeakenedVersion);
        if (target is null || (target.Flags & VerFlgWeak) != 0)
        {
            return Outcome.AlreadyPatched;
        }
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(target.FlagsOffset), (ushort)(target.Flags | VerFlgWeak));
        // Write beside and rename: another process may be loading the library at this moment.
        var temp = libraryPath + $".{Environment.ProcessId}.tmp";
        File.WriteAllBytes(temp, bytes);
        File.Move(temp, libraryPath, overwrite: true);
        return Outcome.Patched;
    }

    private static string NewestGlibCxx(IReadOnlySet<string> versions) =>
        versions.Where(v => v.StartsWith("GLIBCXX_", StringComparison.Ordinal) && Version.TryParse(v[8..], out _))
            .OrderBy(v => Version.Parse(v[8..])).LastOrDefault() ?? "none found";

    private sealed record VersionNeed(string Name, ushort Flags, int FlagsOffset);

    /// <summary>The Vernaux entries of SHT_GNU_verneed that belong to libstdc++.so.6 (ELF64 little-endian).</summary>
    private static List<VersionNeed> ReadLibStdCxxNeeds(byte[] elf)
    {
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
        {
            throw new TorchLoadException("not an ELF file");
        }
        if (elf[4] != 2 || elf[5] != 1)
        {
            throw new TorchLoadException("only 64-bit little-endian ELF files are supported");
        }
        var span = elf.AsSpan();
        var shoff = (long)BinaryPrimitives.ReadUInt64LittleEndian(span[0x28..]);
        int shentsize = BinaryPrimitives.ReadUInt16LittleEndian(span[0x3A..]);
        int shnum = BinaryPrimitives.ReadUInt16LittleEndian(span[0x3C..]);
        var result = new List<VersionNeed>();
        for (var i = 0; i < shnum; i++)
        {
            var sh = span[(int)(shoff + (long)i * shentsize)..];
            if (BinaryPrimitives.ReadUInt32LittleEndian(sh[4..]) != ShtGnuVerneed)
            {
                continue;
            }
            var offset = (int)BinaryPrimitives.ReadUInt64LittleEndian(sh[0x18..]);
            var link = (int)BinaryPrimitives.ReadUInt32LittleEndian(sh[0x28..]);
            var strSh = span[(int)(shoff + (long)link * shentsize)..];
            var strOffset = (int)BinaryPrimitives.ReadUInt64LittleEndian(strSh[0x18..]);
            var vn = offset;
            while (true)
            {
                int count = BinaryPrimitives.ReadUInt16LittleEndian(span[(vn + 2)..]);
                var file = ReadString(span, strOffset + (int)BinaryPrimitives.ReadUInt32LittleEndian(span[(vn + 4)..]));
                var aux = vn + (int)BinaryPrimitives.ReadUInt32LittleEndian(span[(vn + 8)..]);
                for (var a = 0; a < count; a++)
                {
                    if (file.StartsWith("libstdc++", StringComparison.Ordinal))
                    {
                        var flags = BinaryPrimitives.ReadUInt16LittleEndian(span[(aux + 4)..]);
                        var name = ReadString(span, strOffset + (int)BinaryPrimitives.ReadUInt32LittleEndian(span[(aux + 8)..]));
                        result.Add(new VersionNeed(name, flags, aux + 4));
                    }
                    var nextAux = BinaryPrimitives.ReadUInt32LittleEndian(span[(aux + 12)..]);
                    if (nextAux == 0)
                    {
                        break;
                    }
                    aux += (int)nextAux;
                }
                var next = BinaryPrimitives.ReadUInt32LittleEndian(span[(vn + 12)..]);
                if (next == 0)
                {
                    break;
                }
                vn += (int)next;
            }
        }
        return result;
    }

    private static string ReadString(ReadOnlySpan<byte> span, int offset)
    {
        var end = span[offset..].IndexOf((byte)0);
        return Encoding.ASCII.GetString(span.Slice(offset, end));
    }
}
