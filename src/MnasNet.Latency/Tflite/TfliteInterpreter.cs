using System.Runtime.InteropServices;

namespace MnasNet.Latency.Tflite;

/// <summary>The TensorFlow Lite C library is missing or does not load; the message names deploy/setup.sh.</summary>
public sealed class TfliteLibraryNotFoundException : LatencyException
{
    public TfliteLibraryNotFoundException(string message) : base(message) { }

    public TfliteLibraryNotFoundException(string message, Exception inner) : base(message, inner) { }

    public TfliteLibraryNotFoundException() { }
}

/// <summary>Interpreter settings: CPU threads and whether the XNNPACK delegate runs the graph (on, as in current TFLite).</summary>
public sealed record TfliteInterpreterSettings(int Threads = 1, bool XnnPack = true)
{
    public TfliteInterpreterSettings Validate() =>
        Threads >= 1 ? this : throw new ArgumentException($"TFLite threads must be at least 1, got {Threads}");
}

/// <summary>
/// One TFLite interpreter on a float32 model with one input and one output (what <see cref="TfliteExporter"/>
/// writes). The model bytes are copied to aligned native memory that lives as long as the interpreter (the C API does
/// not copy them). Errors the library reports are collected and become the exception's message.
/// </summary>
public sealed unsafe class TfliteInterpreter : IDisposable
{
    private readonly List<string> _errors = [];
    private readonly GCHandle _errorsHandle;
    private IntPtr _modelData;
    private IntPtr _model;
    private IntPtr _options;
    private IntPtr _xnnpack;
    private IntPtr _interpreter;
    private readonly IntPtr _input;
    private readonly IntPtr _output;

    public TfliteInterpreterSettings Settings { get; }

    public int[] InputShape { get; }

    public int[] OutputShape { get; }

    public int InputLength { get; }

    public int OutputLength { get; }

    /// <summary>The library's version, e.g. "2.9.0" (loads the library; throws when it is missing).</summary>
    public static string Version
    {
        get
        {
            TfliteNative.EnsureLoaded();
            return TfliteNative.VersionString();
        }
    }

    /// <summary>Where the library was loaded from.</summary>
    public static string LibraryPath => TfliteNative.EnsureLoaded();

    public TfliteInterpreter(byte[] model, TfliteInterpreterSettings? settings = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        Settings = (settings ?? new TfliteInterpreterSettings()).Validate();
        TfliteNative.EnsureLoaded();
        _errorsHandle = GCHandle.Alloc(_errors);
        try
        {
            _modelData = (IntPtr)NativeMemory.AlignedAlloc((nuint)Math.Max(model.Length, 1), 64);
            Marshal.Copy(model, 0, _modelData, model.Length);
            _model = TfliteNative.ModelCreate(_modelData, (nuint)model.Length);
            if (_model == IntPtr.Zero)
            {
                throw Failure("TFLite could not read the model (not a valid .tflite FlatBuffer)");
            }
            _options = TfliteNative.OptionsCreate();
            TfliteNative.OptionsSetErrorReporter(_options, &Report, GCHandle.ToIntPtr(_errorsHandle));
            TfliteNative.OptionsSetNumThreads(_options, Settings.Threads);
            if (Settings.XnnPack)
            {
                var xnnpackOptions = new TfliteNative.XnnPackOptions { NumThreads = Settings.Threads };
                _xnnpack = TfliteNative.XnnPackDelegateCreate(xnnpackOptions);
                if (_xnnpack == IntPtr.Zero)
                {
                    throw Failure("TFLite could not create the XNNPACK delegate");
                }
                TfliteNative.OptionsAddDelegate(_options, _xnnpack);
            }
            _interpreter = TfliteNative.InterpreterCreate(_model, _options);
            if (_interpreter == IntPtr.Zero)
            {
                throw Failure("TFLite rejected the model");
            }
            if (TfliteNative.AllocateTensors(_interpreter) != TfliteNative.Status.Ok)
            {
                throw Failure("TFLite could not allocate the model's tensors");
            }
            if (TfliteNative.InputTensorCount(_interpreter) != 1 || TfliteNative.OutputTensorCount(_interpreter) != 1)
            {
                throw Failure("the model must have exactly one input and one output");
            }
            _input = TfliteNative.InputTensor(_interpreter, 0);
            _output = TfliteNative.OutputTensor(_interpreter, 0);
            const int Float32 = 1;
            if (TfliteNative.TensorType(_input) != Float32 || TfliteNative.TensorType(_output) != Float32)
            {
                throw Failure("the model's input and output must be float32");
            }
            InputShape = Shape(_input);
            OutputShape = Shape(_output);
            InputLength = (int)(TfliteNative.TensorByteSize(_input) / sizeof(float));
            OutputLength = (int)(TfliteNative.TensorByteSize(_output) / sizeof(float));
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Copies <paramref name="input"/> (NHWC, row-major) into the input tensor.</summary>
    public void SetInput(ReadOnlySpan<float> input)
    {
        ObjectDisposedException.ThrowIf(_interpreter == IntPtr.Zero, this);
        if (input.Length != InputLength)
        {
            throw new ArgumentException($"input has {input.Length} values, the model takes {InputLength} ([{string.Join(", ", InputShape)}])");
        }
        fixed (float* p = input)
        {
            Check(TfliteNative.TensorCopyFromBuffer(_input, (IntPtr)p, (nuint)(input.Length * sizeof(float))), "copy the input");
        }
    }

    /// <summary>Runs the graph once on the current input.</summary>
    public void Invoke()
    {
        ObjectDisposedException.ThrowIf(_interpreter == IntPtr.Zero, this);
        Check(TfliteNative.Invoke(_interpreter), "run the model");
    }

    public float[] GetOutput()
    {
        ObjectDisposedException.ThrowIf(_interpreter == IntPtr.Zero, this);
        var output = new float[OutputLength];
        fixed (float* p = output)
        {
            Check(TfliteNative.TensorCopyToBuffer(_output, (IntPtr)p, (nuint)(output.Length * sizeof(float))), "copy the output");
        }
        return output;
    }

    /// <summary>Runs the model once on <paramref name="input"/> and returns its output.</summary>
    public float[] Run(ReadOnlySpan<float> input)
    {
        SetInput(input);
        Invoke();
        return GetOutput();
    }

    /// <summary>Loads <paramref name="model"/>, runs it once and returns the output.</summary>
    public static float[] Run(byte[] model, ReadOnlySpan<float> input, TfliteInterpreterSettings? settings = null)
    {
        using var interpreter = new TfliteInterpreter(model, settings);
        return interpreter.Run(input);
    }

    public void Dispose()
    {
        if (_interpreter != IntPtr.Zero)
        {
            TfliteNative.InterpreterDelete(_interpreter);
            _interpreter = IntPtr.Zero;
        }
        if (_xnnpack != IntPtr.Zero)
        {
            TfliteNative.XnnPackDelegateDelete(_xnnpack);
            _xnnpack = IntPtr.Zero;
        }
        if (_options != IntPtr.Zero)
        {
            TfliteNative.OptionsDelete(_options);
            _options = IntPtr.Zero;
        }
        if (_model != IntPtr.Zero)
        {
            TfliteNative.ModelDelete(_model);
            _model = IntPtr.Zero;
        }
        if (_modelData != IntPtr.Zero)
        {
            NativeMemory.AlignedFree((void*)_modelData);
            _modelData = IntPtr.Zero;
        }
        if (_errorsHandle.IsAllocated)
        {
            _errorsHandle.Free();
        }
    }

    private void Check(TfliteNative.Status status, string what)
    {
        if (status != TfliteNative.Status.Ok)
        {
            throw Failure($"TFLite failed to {what} ({status})");
        }
    }

    private LatencyBackendException Failure(string message)
    {
        string[] reported;
        lock (_errors)
        {
            reported = [.. _errors];
            _errors.Clear();
        }
        return new LatencyBackendException(reported.Length == 0 ? message : $"{message}: {string.Join("; ", reported)}", transient: false);
    }

    private static int[] Shape(IntPtr tensor)
    {
        var shape = new int[TfliteNative.TensorNumDims(tensor)];
        for (var i = 0; i < shape.Length; i++)
        {
            shape[i] = TfliteNative.TensorDim(tensor, i);
        }
        return shape;
    }

    [UnmanagedCallersOnly]
    private static void Report(IntPtr userData, IntPtr format, IntPtr args)
    {
        const int Size = 1024;
        var buffer = stackalloc byte[Size];
        TfliteNative.VsnPrintf((IntPtr)buffer, Size, format, args);
        if (GCHandle.FromIntPtr(userData).Target is List<string> errors)
        {
            lock (errors)
            {
                errors.Add(Marshal.PtrToStringUTF8((IntPtr)buffer) ?? "");
            }
        }
    }
}
