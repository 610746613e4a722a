using System.Runtime.InteropServices;
using Google.FlatBuffers;
using tflite;

namespace MnasNet.Latency.Tflite;

/// <summary>
/// Accumulates the tensors, constant buffers and operators of one TFLite subgraph, then writes the model FlatBuffer
/// (identifier TFL3, schema version 3, buffer 0 empty, both operator-code fields set). Shapes are static (batch 1).
/// </summary>
internal sealed class TfliteGraphBuilder
{
    public const int SchemaVersion = 3;

    private sealed record TensorEntry(string Name, int[] Shape, TensorType Type, int Buffer);

    private sealed record OperatorEntry(int OpcodeIndex, int[] Inputs, int[] Outputs, BuiltinOptions OptionsType, Func<FlatBufferBuilder, int>? Options);

    private readonly List<TensorEntry> _tensors = [];
    private readonly List<byte[]> _buffers = [[]];
    private readonly List<OperatorEntry> _operators = [];
    private readonly List<BuiltinOperator> _opcodes = [];
    private readonly List<int> _inputs = [];
    private readonly List<int> _outputs = [];
    private readonly Dictionary<string, int> _counters = [];

    public int[] ShapeOf(int tensor) => _tensors[tensor].Shape;

    public int Input(string name, params int[] shape)
    {
        var t = AddTensor(name, shape, TensorType.FLOAT32, 0);
        _inputs.Add(t);
        return t;
    }

    /// <summary>Marks <paramref name="tensor"/> as a graph output and gives it <paramref name="name"/>.</summary>
    public void Output(int tensor, string name)
    {
        _tensors[tensor] = _tensors[tensor] with { Name = name };
        _outputs.Add(tensor);
    }

    public int Floats(string prefix, float[] data, params int[] shape)
    {
        CheckSize(data.Length, shape, prefix);
        return AddTensor(Fresh(prefix), shape, TensorType.FLOAT32, AddBuffer(MemoryMarshal.AsBytes(data.AsSpan()).ToArray()));
    }

    public int Ints(string prefix, int[] data, params int[] shape)
    {
        CheckSize(data.Length, shape, prefix);
        return AddTensor(Fresh(prefix), shape, TensorType.INT32, AddBuffer(MemoryMarshal.AsBytes(data.AsSpan()).ToArray()));
    }

    /// <summary>Adds an operator with one float output of <paramref name="outputShape"/>; returns the output tensor.</summary>
    public int Op(BuiltinOperator op, int[] inputs, int[] outputShape, BuiltinOptions optionsType = BuiltinOptions.NONE, Func<FlatBufferBuilder, int>? options = null)
    {
        var index = _opcodes.IndexOf(op);
        if (index < 0)
        {
            index = _opcodes.Count;
            _opcodes.Add(op);
        }
        var output = AddTensor(Fresh(op.ToString().ToLowerInvariant()), outputShape, TensorType.FLOAT32, 0);
        _operators.Add(new OperatorEntry(index, inputs, [output], optionsType, options));
        return output;
    }

    public IReadOnlyList<BuiltinOperator> OperatorCodes => _opcodes;

    public byte[] Build(string description)
    {
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("TFLite buffers are little-endian; big-endian hosts are not supported");
        }
        var b = new FlatBufferBuilder(_buffers.Sum(x => x.Length + 64) + 64 * 1024);

        var buffers = new Offset<tflite.Buffer>[_buffers.Count];
        for (var i = 0; i < _buffers.Count; i++)
        {
            if (_buffers[i].Length == 0)
            {
                tflite.Buffer.StartBuffer(b);
                buffers[i] = tflite.Buffer.EndBuffer(b);
                continue;
            }
            // flatc 2.0.8 ignores the schema's force_align: 16 on Buffer.data; XNNPACK and the kernels want it.
            b.StartVector(1, _buffers[i].Length, 16);
            b.Add(_buffers[i]);
            buffers[i] = tflite.Buffer.CreateBuffer(b, b.EndVector());
        }

        var tensors = new Offset<Tensor>[_tensors.Count];
        for (var i = 0; i < _tensors.Count; i++)
        {
            var t = _tensors[i];
            var shape = Tensor.CreateShapeVector(b, t.Shape);
            var name = b.CreateString(t.Name);
            tensors[i] = Tensor.CreateTensor(b, shape, t.Type, (uint)t.Buffer, name);
        }

        var operators = new Offset<Operator>[_operators.Count];
        for (var i = 0; i < _operators.Count; i++)
        {
            var o = _operators[i];
            var options = o.Options?.Invoke(b) ?? 0;
            var inputs = Operator.CreateInputsVector(b, o.Inputs);
            var outputs = Operator.CreateOutputsVector(b, o.Outputs);
            operators[i] = Operator.CreateOperator(b, (uint)o.OpcodeIndex, inputs, outputs, o.OptionsType, options);
        }

        var subgraph = SubGraph.CreateSubGraph(b,
            SubGraph.CreateTensorsVector(b, tensors),
            SubGraph.CreateInputsVector(b, [.. _inputs]),
            SubGraph.CreateOutputsVector(b, [.. _outputs]),
            SubGraph.CreateOperatorsVector(b, operators),
            b.CreateString("main"));

        var codes = _opcodes
            .Select(op => OperatorCode.CreateOperatorCode(b, deprecated_builtin_code: (sbyte)Math.Min((int)op, (int)BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES), version: 1, builtin_code: op))
            .ToArray();

        var model = Model.CreateModel(b,
            version: SchemaVersion,
            operator_codesOffset: Model.CreateOperatorCodesVector(b, codes),
            subgraphsOffset: Model.CreateSubgraphsVector(b, [subgraph]),
            descriptionOffset: b.CreateString(description),
            buffersOffset: Model.CreateBuffersVector(b, buffers));
        Model.FinishModelBuffer(b, model);
        return b.SizedByteArray();
    }

    private int AddTensor(string name, int[] shape, TensorType type, int buffer)
    {
        _tensors.Add(new TensorEntry(name, shape, type, buffer));
        return _tensors.Count - 1;
    }

    private int AddBuffer(byte[] data)
    {
        _buffers.Add(data);
        return _buffers.Count - 1;
    }

    private string Fresh(string prefix)
    {
        _counters.TryGetValue(prefix, out var n);
        _counters[prefix] = n + 1;
        return $"{prefix}_{n}";
    }

    private static void CheckSize(int length, int[] shape, string name)
    {
        if (shape.Aggregate(1L, (a, d) => a * d) != length)
        {
            throw new ArgumentException($"constant {name}: {length} values do not fill shape [{string.Join(", ", shape)}]");
        }
    }
}
