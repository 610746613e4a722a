using Google.Protobuf;
using Onnx;

namespace MnasNet.Latency.Onnx;

/// <summary>Accumulates nodes and float/int64 initializers of one ONNX graph with unique names.</summary>
internal sealed class OnnxGraphBuilder
{
    private readonly Dictionary<string, int> _counters = [];

    public GraphProto Graph { get; }

    public OnnxGraphBuilder(string name) => Graph = new GraphProto { Name = name };

    public string Fresh(string prefix)
    {
        _counters.TryGetValue(prefix, out var n);
        _counters[prefix] = n + 1;
        return $"{prefix}_{n}";
    }

    public string Floats(string prefix, float[] data, params long[] dims)
    {
        var tensor = new TensorProto { Name = Fresh(prefix), DataType = (int)TensorProto.Types.DataType.Float };
        tensor.Dims.AddRange(dims);
        var bytes = new byte[data.Length * sizeof(float)];
        Buffer.BlockCopy(data, 0, bytes, 0, bytes.Length);
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("ONNX raw data is little-endian; big-endian hosts are not supported");
        }
        tensor.RawData = ByteString.CopyFrom(bytes);
        Graph.Initializer.Add(tensor);
        return tensor.Name;
    }

    public string Int64s(string prefix, params long[] data)
    {
        var tensor = new TensorProto { Name = Fresh(prefix), DataType = (int)TensorProto.Types.DataType.Int64 };
        tensor.Dims.Add(data.Length);
        tensor.Int64Data.AddRange(data);
        Graph.Initializer.Add(tensor);
        return tensor.Name;
    }

    /// <summary>Adds a node with one output and returns the output's name.</summary>
    public string Node(string op, IEnumerable<string> inputs, params AttributeProto[] attributes)
    {
        var name = Fresh(op.ToLowerInvariant());
        var node = new NodeProto { OpType = op, Name = name };
        node.Input.AddRange(inputs);
        node.Output.Add(name + "_out");
        node.Attribute.AddRange(attributes);
        Graph.Node.Add(node);
        return name + "_out";
    }

    /// <summary>Renames the graph's last output to <paramref name="name"/> and declares it.</summary>
    public void Output(string value, string name, params long[] shape)
    {
        foreach (var node in Graph.Node)
        {
            for (var i = 0; i < node.Output.Count; i++)
            {
                if (node.Output[i] == value)
                {
                    node.Output[i] = name;
                }
            }
        }
        Graph.Output.Add(Value(name, shape));
    }

    public string Input(string name, params long[] shape)
    {
        Graph.Input.Add(Value(name, shape));
        return name;
    }

    public static AttributeProto Ints(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    public static AttributeProto Int(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    /// <summary>A float tensor value; a dimension of 0 or less is the dynamic batch dimension.</summary>
    private static ValueInfoProto Value(string name, long[] shape)
    {
        var tensorShape = new TensorShapeProto();
        foreach (var d in shape)
        {
            tensorShape.Dim.Add(d > 0 ? new TensorShapeProto.Types.Dimension { DimValue = d } : new TensorShapeProto.Types.Dimension { DimParam = "batch" });
        }
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto
            {
                TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = tensorShape },
            },
        };
    }
}
