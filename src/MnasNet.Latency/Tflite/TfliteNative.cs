using System.Runtime.InteropServices;

namespace MnasNet.Latency.Tflite;

/// <summary>
/// Where the TensorFlow Lite C library (<c>libtensorflowlite_c.so</c>, TFLite 2.9.0 from the npm package
/// tfjs-tflite-node 0.0.2) is: the file named by <c>MNASNET_TFLITE_LIB</c> if set; else <c>libtensorflowlite_c.so</c>
/// beside the application; else <c>.native/tflite/</c> in the application's directory or any parent (a checkout
/// where <c>deploy/setup.sh</c> ran); else <c>/usr/local/lib</c>.
/// </summary>
public static class TfliteLibrary
{
    public const string FileName = "libtensorflowlite_c.so";
    public const string PathVariable = "MNASNET_TFLITE_LIB";

    /// <summary>The first candidate that exists, or <see cref="TfliteLibraryNotFoundException"/> saying where it looked.</summary>
    public static string Find(string? explicitPath, string baseDirectory)
    {
        ArgumentNullException.ThrowIfNull(baseDirectory);
        if (!string.IsNullOrWhiteSpace(explicitPath))
        {
            return File.Exists(explicitPath)
                ? explicitPath
                : throw new TfliteLibraryNotFoundException($"{PathVariable}={explicitPath}: no such file; it must name {FileName} " +
                    "(TFLite 2.9), which deploy/setup.sh installs in .native/tflite/");
        }
        var candidates = new List<string> { Path.Combine(baseDirectory, FileName) };
        for (var dir = new DirectoryInfo(baseDirectory); dir is not null; dir = dir.Parent)
        {
            candidates.Add(Path.Combine(dir.FullName, ".native", "tflite", FileName));
        }
        candidates.Add(Path.Combine("/usr/local/lib", FileName));
        return candidates.FirstOrDefault(File.Exists)
            ?? throw new TfliteLibraryNotFoundException($"the TensorFlow Lite C library ({FileName}, TFLite 2.9) is not installed: run deploy/setup.sh, " +
                $"which puts it in .native/tflite/, or set {PathVariable} to its path (looked beside the application, in .native/tflite/ of " +
                $"{baseDirectory} and its parents, and in /usr/local/lib)");
    }
}

/// <summary>P/Invoke into the TensorFlow Lite C API; the library is resolved by <see cref="TfliteLibrary.Find"/>.</summary>
internal static partial class TfliteNative
{
    public const string Library = "tensorflowlite_c";

    private static readonly Lazy<(IntPtr Handle, string? Path, Exception? Error)> Loaded = new(Load);

    static TfliteNative() =>
        NativeLibrary.SetDllImportResolver(typeof(TfliteNative).Assembly, (name, _, _) =>
            name == Library ? Loaded.Value.Handle : IntPtr.Zero);

    /// <summary>Loads the library (once) and returns its path, or throws <see cref="TfliteLibraryNotFoundException"/>.</summary>
    public static string EnsureLoaded()
    {
        var (handle, path, error) = Loaded.Value;
        return handle != IntPtr.Zero ? path! : throw new TfliteLibraryNotFoundException(error!.Message, error);
    }

    private static (IntPtr, string?, Exception?) Load()
    {
        string path;
        try
        {
            path = TfliteLibrary.Find(Environment.GetEnvironmentVariable(TfliteLibrary.PathVariable), AppContext.BaseDirectory);
        }
        catch (TfliteLibraryNotFoundException e)
        {
            return (IntPtr.Zero, null, e);
        }
        try
        {
            return (NativeLibrary.Load(path), path, null);
        }
        catch (DllNotFoundException e)
        {
            return (IntPtr.Zero, null, new TfliteLibraryNotFoundException($"the TensorFlow Lite C library {path} does not load ({e.Message}); re-install it with deploy/setup.sh", e));
        }
    }

    public enum Status
    {
        Ok = 0,
        Error = 1,
        DelegateError = 2,
        ApplicationError = 3,
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct XnnPackOptions
    {
        public int NumThreads;
        public uint Flags;
    }

    [LibraryImport(Library, EntryPoint = "TfLiteVersion")]
    public static partial IntPtr Version();

    [LibraryImport(Library, EntryPoint = "TfLiteModelCreate")]
    public static partial IntPtr ModelCreate(IntPtr data, nuint size);

    [LibraryImport(Library, EntryPoint = "TfLiteModelDelete")]
    public static partial void ModelDelete(IntPtr model);

    [LibraryImport(Library, EntryPoint = "TfLiteInterpreterOptionsCreate")]
    public static partial IntPtr OptionsCreate();

    [LibraryImport(Library, EntryPoint = "TfLiteInterpreterOptionsDelete")]
    public static partial void OptionsDelete(IntPtr options);

    [LibraryImport(Library, EntryPoint = "TfLiteInterpreterOptionsSetNumThreads")]
    public static partial void OptionsSetNumThreads(IntPtr options, int threads);

    [LibraryImport(Library, EntryPoint = "TfLiteInterpreterOptionsAddDelegate")]
    public static partial void OptionsAddDelegate(IntPtr options, IntPtr tfliteDelegate);

    [LibraryImport(Library, EntryPoint = "TfLiteInterpreterOptionsSetErrorReporter")]
    public static unsafe partial void OptionsSetErrorReporter(IntPtr options, delegate* unmanaged<IntPtr, IntPtr, IntPtr, void> reporter, IntPtr userData);

    [LibraryImport(Library, EntryPoint = "TfLiteInterpreterCreate")]
    public static partial IntPtr InterpreterCreate(IntPtr model, IntPtr options);

    [LibraryImport(Library, EntryPoint = "TfLiteInterpreterDelete")]
    public static partial void InterpreterDelete(IntPtr interpreter);

    [LibraryImport(Library, EntryPoint = "TfLiteInterpreterAllocateTensors")]
    public static partial Status AllocateTensors(IntPtr interpreter);

    [LibraryImport(Library, EntryPoint = "TfLiteInterpreterInvoke")]
    public static partial Status Invoke(IntPtr interpreter);

    [LibraryImport(Library, EntryPoint = "TfLiteInterpreterGetInputTensorCount")]
    public static partial int InputTensorCount(IntPtr interpreter);

    [LibraryImport(Library, EntryPoint = "TfLiteInterpreterGetOutputTensorCount")]
    public static partial int OutputTensorCount(IntPtr interpreter);

    [LibraryImport(Library, EntryPoint = "TfLiteInterpreterGetInputTensor")]
    public static partial IntPtr InputTensor(IntPtr interpreter, int index);

    [LibraryImport(Library, EntryPoint = "TfLiteInterpreterGetOutputTensor")]
    public static partial IntPtr OutputTensor(IntPtr interpreter, int index);

    [LibraryImport(Library, EntryPoint = "TfLiteTensorByteSize")]
    public static partial nuint TensorByteSize(IntPtr tensor);

    [LibraryImport(Library, EntryPoint = "TfLiteTensorNumDims")]
    public static partial int TensorNumDims(IntPtr tensor);

    [LibraryImport(Library, EntryPoint = "TfLiteTensorDim")]
    public static partial int TensorDim(IntPtr tensor, int index);

    [LibraryImport(Library, EntryPoint = "TfLiteTensorType")]
    public static partial int TensorType(IntPtr tensor);

    [LibraryImport(Library, EntryPoint = "TfLiteTensorCopyFromBuffer")]
    public static partial Status TensorCopyFromBuffer(IntPtr tensor, IntPtr data, nuint size);

    [LibraryImport(Library, EntryPoint = "TfLiteTensorCopyToBuffer")]
    public static partial Status TensorCopyToBuffer(IntPtr tensor, IntPtr data, nuint size);

    [LibraryImport(Library, EntryPoint = "TfLiteXNNPackDelegateCreate")]
    public static partial IntPtr XnnPackDelegateCreate(in XnnPackOptions options);

    [LibraryImport(Library, EntryPoint = "TfLiteXNNPackDelegateDelete")]
    public static partial void XnnPackDelegateDelete(IntPtr tfliteDelegate);

    /// <summary>libc's vsnprintf: formats an error report's printf format and va_list (passed on as a pointer).</summary>
    [LibraryImport("libc", EntryPoint = "vsnprintf")]
    public static partial int VsnPrintf(IntPtr buffer, nuint size, IntPtr format, IntPtr args);

    public static string VersionString() => Marshal.PtrToStringUTF8(Version()) ?? "unknown";
}
