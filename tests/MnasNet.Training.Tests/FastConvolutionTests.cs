using MnasNet.SearchSpace;
using MnasNet.Torch;
using MnasNet.Training.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace MnasNet.Training.Tests;

/// <summary>
/// The trainer's fast paths — channels-last layout and kernels cropped to an input smaller than they are — compute
/// what the plain NCHW convolutions compute, outputs and gradients, up to rounding.
/// </summary>
public sealed class FastConvolutionTests
{
    public FastConvolutionTests() => TorchRuntime.EnsureLoaded(threads: 1);

    private static (float[] Output, float[][] Gradients) ForwardBackward(MnasNetModel model, Tensor x)
    {
        using var scope = NewDisposeScope();
        foreach (var p in model.parameters())
        {
            p.grad?.zero_();
        }
        var y = model.call(x);
        y.square().sum().backward();
        return (y.data<float>().ToArray(), model.parameters().Select(p => p.grad!.data<float>().ToArray()).ToArray());
    }

    private static void AssertClose(float[] expected, float[] actual, double tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        var scale = Math.Max(1e-6, expected.Max(v => Math.Abs(v)));
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance * scale, $"element {i}: {expected[i]} vs {actual[i]} (scale {scale})");
        }
    }

    // MnasNet-B1 at 32² ends at 1×1 spatial size with 5×5 depthwise kernels: every fast path is exercised.
    [Fact]
    public void Channels_last_and_cropped_kernels_give_the_outputs_and_gradients_of_full_nchw_convolutions()
    {
        using var generator = new Generator(3);
        using var model = MnasNetModel.Build(ArchitectureResolver.Resolve("mnasnet-b1"), new NetworkOptions(32, 3, 10, 0.5, 0), generator);
        // Evaluation mode: with batch statistics over a few images at 1×1 spatial size, BatchNorm would magnify
        // rounding differences far above the tolerance.
        model.eval();
        using var x = randn([4, 3, 32, 32], generator: generator);

        var (plainOutput, plainGrads) = ForwardBackward(model, x);
        // The reference: the Conv2d modules' own forward (full kernels, NCHW), bypassing ConvBnAct's fast paths.
        var fullKernels = ReferenceForwardBackward(model, x);
        model.ChannelsLast = true;
        var (fastOutput, fastGrads) = ForwardBackward(model, x);

        AssertClose(fullKernels.Output, plainOutput, 1e-4);
        AssertClose(fullKernels.Output, fastOutput, 1e-4);
        for (var i = 0; i < plainGrads.Length; i++)
        {
            AssertClose(fullKernels.Gradients[i], plainGrads[i], 1e-3);
            AssertClose(fullKernels.Gradients[i], fastGrads[i], 1e-3);
        }
    }

    private static (float[] Output, float[][] Gradients) ReferenceForwardBackward(MnasNetModel model, Tensor x)
    {
        using var scope = NewDisposeScope();
        foreach (var p in model.parameters())
        {
            p.grad?.zero_();
        }
        Tensor Block(ConvBnAct c, Tensor input)
        {
            var y = ConvBnAct.BatchNorm(c.bn, c.conv.call(input), training: false);
            return c.Activation ? nn.functional.relu(y) : y;
        }
        var h = Block(model.stem, x);
        foreach (var layer in model.layers)
        {
            var y = h;
            for (var i = 0; i < layer.convs.Count; i++)
            {
                y = Block(layer.convs[i], y);
                if (i == layer.SeAfter && layer.se is not null)
                {
                    y = layer.se.call(y);
                }
            }
            Assert.Equal(SkipOp.Identity, layer.HasResidual ? layer.Skip : SkipOp.Identity);
            h = layer.HasResidual ? y + h : y;
        }
        h = nn.functional.adaptive_avg_pool2d(Block(model.head, h), [1, 1]).flatten(1);
        var output = model.classifier.call(h);
        output.square().sum().backward();
        return (output.data<float>().ToArray(), model.parameters().Select(p => p.grad!.data<float>().ToArray()).ToArray());
    }
}
