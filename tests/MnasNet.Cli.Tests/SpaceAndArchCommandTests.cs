using System.Text.Json;
using MnasNet.Cli;
using MnasNet.SearchSpace;

namespace MnasNet.Cli.Tests;

public sealed class SpaceAndArchCommandTests
{
    [Fact]
    public async Task Space_describe_json_lists_42_decisions_and_the_size()
    {
        var r = await InProcessCli.RunAsync("space", "describe", "--json");
        Assert.Equal(ExitCodes.Success, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Output);
        Assert.Equal(42, doc.RootElement.GetProperty("decisions").GetArrayLength());
        Assert.Equal(MnasNetSearchSpace.Default.Log10Size, doc.RootElement.GetProperty("log10Size").GetDouble(), 3);
        var firstLayers = doc.RootElement.GetProperty("decisions")[5];
        Assert.Equal(2, firstLayers.GetProperty("allowed").GetArrayLength());
    }

    [Fact]
    public async Task Space_sample_is_reproducible_and_decodable()
    {
        var a = await InProcessCli.RunAsync("space", "sample", "--seed", "9", "--count", "3", "--json");
        var b = await InProcessCli.RunAsync("space", "sample", "--seed", "9", "--count", "3", "--json");
        Assert.Equal(a.Output, b.Output);
        using var doc = JsonDocument.Parse(a.Output);
        Assert.Equal(3, doc.RootElement.GetArrayLength());
        foreach (var s in doc.RootElement.EnumerateArray())
        {
            var arch = ArchitectureResolver.Resolve(s.GetProperty("tokens").GetString()!);
            Assert.Equal(arch.Id, s.GetProperty("id").GetString());
            Assert.Equal(CostModel.Compute(arch).Macs, s.GetProperty("macs").GetInt64());
        }
    }

    [Theory]
    [InlineData("mnasnet-b1", 4_383_312)]
    [InlineData("mobilenet-v2", 3_504_872)]
    public async Task Arch_show_json_gives_reference_counts(string name, long expectedParams)
    {
        var r = await InProcessCli.RunAsync("arch", "show", name, "--json");
        Assert.Equal(ExitCodes.Success, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Output);
        Assert.Equal(expectedParams, doc.RootElement.GetProperty("params").GetInt64());
        Assert.Equal(7, doc.RootElement.GetProperty("blocks").GetArrayLength());
        Assert.Equal(ReferenceArchitectures.ByName[name].Id, doc.RootElement.GetProperty("id").GetString());
        Assert.True(doc.RootElement.GetProperty("macs").GetInt64() > 0);
        Assert.True(doc.RootElement.TryGetProperty("tokens", out _));
    }

    [Fact]
    public async Task Arch_show_reads_a_json_file_and_applies_network_options()
    {
        var path = Path.Combine(Path.GetTempPath(), $"arch-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(path, ArchitectureJson.ToJson(ReferenceArchitectures.MnasNetA1, indented: true), TestContext.Current.CancellationToken);
        try
        {
            var r = await InProcessCli.RunAsync("arch", "show", path, "--classes", "10", "--resolution", "32", "--json");
            Assert.Equal(ExitCodes.Success, r.ExitCode);
            using var doc = JsonDocument.Parse(r.Output);
            var expected = CostModel.Compute(ReferenceArchitectures.MnasNetA1, new NetworkOptions(32, 3, 10));
            Assert.Equal(expected.Params, doc.RootElement.GetProperty("params").GetInt64());
            Assert.Equal(expected.Macs, doc.RootElement.GetProperty("macs").GetInt64());
            Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("tokens").ValueKind);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task Arch_show_table_names_the_totals()
    {
        var r = await InProcessCli.RunAsync("arch", "show", "mnasnet-a1");
        Assert.Equal(ExitCodes.Success, r.ExitCode);
        Assert.Contains("3,887,038 parameters", r.Output);
        Assert.Contains("311.6 M multiply-adds", r.Output);
    }

    [Theory]
    [InlineData(ExitCodes.InvalidInput, "unknown architecture 'resnet50'", "arch", "show", "resnet50")]
    [InlineData(ExitCodes.InvalidInput, "expected 42 tokens", "arch", "show", "000000-000000")]
    [InlineData(ExitCodes.InvalidInput, "does not exist", "arch", "show", "/no/such/arch.json")]
    [InlineData(ExitCodes.InvalidInput, "width multiplier", "arch", "show", "mnasnet-a1", "--width", "0")]
    [InlineData(ExitCodes.InvalidInput, "--count must be between", "space", "sample", "--seed", "1", "--count", "0")]
    [InlineData(ExitCodes.UsageError, "Option '--seed' is required", "space", "sample")]
    [InlineData(ExitCodes.UsageError, "Cannot parse argument 'x'", "space", "sample", "--seed", "x")]
    [InlineData(ExitCodes.UsageError, "Unrecognized command or argument 'bogus'", "bogus")]
    public async Task Bad_input_gives_one_clear_line_and_a_non_zero_exit(int code, string message, params string[] args)
    {
        var r = await InProcessCli.RunAsync(args);
        Assert.Equal(code, r.ExitCode);
        Assert.StartsWith("error: ", r.Error);
        Assert.Contains(message, r.Error);
        Assert.Equal("", r.Output);
    }

    [Fact]
    public async Task A_bad_json_file_names_the_file_and_the_field()
    {
        var path = Path.Combine(Path.GetTempPath(), $"arch-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(path, """{"stem":{"channels":32},"blocks":[{"op":"warp","kernel":3,"channels":8,"layers":1,"stride":1}],"head":{}}""", TestContext.Current.CancellationToken);
        try
        {
            var r = await InProcessCli.RunAsync("arch", "show", path);
            Assert.Equal(ExitCodes.InvalidInput, r.ExitCode);
            Assert.Contains(path, r.Error);
            Assert.Contains("blocks[0].op: unknown op 'warp'", r.Error);
            Assert.Single(r.Error.Trim().Split('\n'));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
