using System.Runtime.InteropServices;
using MnasNet.Actors.Protocol;
using MnasNet.Controller;

namespace MnasNet.Actors.Tests;

public sealed class PolicyCheckpointTests
{
    private static readonly ComputePlatform Platform = new("test-cpu", "avx2", "avx2", "2.10.0", "0.107.0", 1);

    /// <summary>250 float32 words and a 3-byte tail (a length that is no whole number of words).</summary>
    private static byte[] State(double shift)
    {
        var floats = Enumerable.Range(0, 250).Select(i => (float)(Math.Sin(i * 0.01) + shift)).ToArray();
        return [.. MemoryMarshal.AsBytes(floats.AsSpan()), 1, 2, 3];
    }

    // Written by the encoder before it moved from Brotli quality 5 to 1 (same format): journals keep decoding.
    private const string OldFull = "G+oDAGQIT6OYjEDrm/ACZzA1UazLApB7mcAVFhg76FGy101J+NYdZGsnnKN1kvFgxx7BQIZzin4/edxrbfHJgm4o+5S9okO60GHayIf5TeRAr6PV9/D4YsUOoLV9jyvxXuyx0IzEGn/hh1k/ps3VYwZRWd61a0eCBPmF6PZ3J9W72Ym/1C7OpNLPb6osPrM7e8ib27O7+EkRl2NevVgoZ0bkol/TE/vIDK8eJ+FNozqwjkRu9Mudaa7Rvf8pJ3QtpvnFVhX9jCZHGuKSo4XlMq/soZCfCyWupOap9bjNlwP15CKSgJE4OR7993YWz2wjjgmuvXd+/9KqaGWz8741UUVeYlabLZ9RW42ixO+RH1rXfv19k08w2F/SVvgM/sKU3CddOU8mAjsGxaYgEsJcX93Gh9ko0C1X3vIWXfnkz9YQx/LXejrmALEbGvGi80zUMvrax8remY2D4+P9tcmOohfAW5Vq5F2EzMorR8Kvtpu5PN/UynUKpZ+SRrQIIxrpHW41nYhZReU8+/K38M/nJ5lhJnzb5Wl6J19dL56rtTiPefSZ/OFAdAvF/N2V8sz+2jK9c351sTff8et6oNJZBUpuIlu8zm0xZityyuY/e0ITm8+rcUa98Gufq7pHJycGmv49QTtLndRmGZ599yB8ozsQsos8SV7zapa/vWnyaFE+8c+GsFPqp/Y1Um5ZbSNzC1M9AuG3B8JWyTffFrdPH5DQcQrLqutbOvuGJ+Iycq/fefjs9fsvP/+VVNQ2tXcPjE7OLa1vH5xcEhKTklPR0DEwsbBxcPHwCQiJiElIycgpKKmoqmtq68B6BobGJmYWltY2dvaOTi6ubh6eXj6+fv4BQcEhoWHhEZFR0TGxcfEJCYlJyckpCAQShUKjMRgsFofD4fF4PAAAAAAAAAAAAADA4/F4HA6HxWIwaDQKhUQiUlKSkxITE+LjYmOioyIjwsNCQ4KDAv39fH28PD3cXV2cHO3tbKwtLcxMjQ0N9GBIW1NdTUVJQU5GWlJcVFiQn5ebQEdHB4IgCIIgCIJhGJavGyERMQ==";
    private const string OldDelta = "G+oDAIzUSE1zuzNdOXMbIKgIOoLdl/wddSkapr0PO6dobg66t+awaUIOe0+ygy7KAKLft6Y+Lyo60egAizMhV3SsBKDa24IMkJEFnB/gAklUrWR5VfVAB8jtOliTm92nF7wg3+lu04Se6IlwTvoCdn6a3XBm+UzH7f1z6cyMtwMzts5b/9y74InztW/al3+UY9Gn0IJxo8ctWjXt+/CeBeOOLh5tW7SYKkwlqVb5ly4c/KmMsESBJS3N89/ULlGvZElXLzXlICshWzF68iUq578tHWuUbGBQSMfOXxKmXslngzzRt1yeiJmDUOx3lbskzGJ/Pi59iq7rdr4gRyKVMPie0b8P9UEbFshW//cVUbXntz6vhiL8Xf8pdYkkZCYJA7GUY+bz8j2fE67Q7/weN4OQmszCF+VfTpVJRr27mV5k5+ybYv1itWeHWYZlBw2bOGjQ4H6D/Nwxv+k3T/3fOi3m/Fy54Pu5ut8sFk8XY7rXiCegzqsCVAFpmtUxfbXK2nFMLY65/b6QMR1ad3ieiZFKLxdjSkEOY9rztGe0cZerjoyrplLEdavabDQkpVOhKB1RPObd+Xx/e377+OtwW5JK2C046kjk8umpaQp3xJcUUcQO3HZVGma1ekk6rlJLOGlyFPeu4VKAagNYMJFwuhinWumITdRkz7Q7NC6xNX74gD5Thkzrl8lkMoiqvxqu+qs1qr/qjwoAQOF0AIUACIAwHBAUAKjhAACAiIiIiIgAAAAqEiKrUYfi9Ragevh2IfQHk/V/TDF0xiT4aQNU2B/tdSuRtkYpeA+vccarLYcB";

    [Fact]
    public void Checkpoints_written_at_the_former_brotli_quality_still_decode()
    {
        var first = State(0);
        var second = State(1e-3);
        var full = new PolicyCheckpoint(PolicyCheckpoint.ShuffledBrotli, OldFull, "441fc13f21b3add0", 1003, Platform);
        var delta = new PolicyCheckpoint(PolicyCheckpoint.ShuffledBrotli, OldDelta, "2dfa354eb8699e72", 1003, Platform, "441fc13f21b3add0");

        Assert.Equal(first, full.Decode(null));
        Assert.Equal(second, delta.Decode(first));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(1003)]
    [InlineData(1 << 20)]
    public void Full_and_delta_checkpoints_round_trip(int length)
    {
        var random = new Random(length);
        var previous = new byte[length];
        random.NextBytes(previous);
        var state = previous.Select((b, i) => i % 7 == 0 ? (byte)(b ^ 0x5a) : b).ToArray();

        var full = PolicyCheckpoint.Of(state, null, Platform);
        var delta = PolicyCheckpoint.Of(state, previous, Platform);

        Assert.Null(full.Base);
        Assert.Equal(PolicyCheckpoint.HashOf(previous), delta.Base);
        Assert.Equal(state, full.Decode(null));
        Assert.Equal(state, delta.Decode(previous));
        Assert.Throws<InvalidDataException>(() => delta.Decode(state.Length > 0 ? state : null));
    }
}
