using System.Text;
using System.Text.RegularExpressions;
using MnasNet.Latency.Adb;
using MnasNet.TestSupport.Adb;

namespace MnasNet.Latency.Tests.Adb;

/// <summary>Our ADB client against the real adb server and a protocol-level phone attached with adb connect.</summary>
public sealed class AdbClientTests(AdbServer server) : IClassFixture<AdbServer>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task The_server_version_is_the_one_the_adb_client_reports()
    {
        var (_, output) = await server.AdbAsync("version");
        var expected = int.Parse(Regex.Match(output, @"version 1\.0\.(\d+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(expected, await server.Client.GetServerVersionAsync(Ct));
    }

    [Fact]
    public async Task An_attached_phone_is_listed_with_its_model_and_features()
    {
        await using var phone = new FakePhone(model: "Pixel 3a");
        await server.AttachAsync(phone);
        var entry = Assert.Single(await server.Client.ListDevicesAsync(Ct), d => d.Serial == phone.Serial);
        Assert.True(entry.IsOnline);
        Assert.Equal("Pixel_3a", entry.Model);
        var features = await server.Client.GetFeaturesAsync(phone.Serial, Ct);
        Assert.Contains("shell_v2", features);
        Assert.Contains("stat_v2", features);
    }

    [Fact]
    public async Task Shell_v2_separates_stdout_and_stderr_and_returns_the_exit_code()
    {
        await using var phone = new FakePhone();
        await server.AttachAsync(phone);
        var client = server.Client;
        var ok = await client.ShellAsync(phone.Serial, "echo hello", cancellationToken: Ct);
        Assert.True(ok.ShellV2);
        Assert.Equal(("hello\n", "", 0), (ok.Stdout, ok.Stderr, ok.ExitCode));
        var err = await client.ShellAsync(phone.Serial, "echo oops >&2", cancellationToken: Ct);
        Assert.Equal(("", "oops\n", 0), (err.Stdout, err.Stderr, err.ExitCode));
        Assert.Equal(7, (await client.ShellAsync(phone.Serial, "exit 7", cancellationToken: Ct)).ExitCode);
        var missing = await client.ShellAsync(phone.Serial, "frobnicate now", cancellationToken: Ct);
        Assert.Equal(127, missing.ExitCode);
        Assert.Contains("not found", missing.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_phone_without_shell_v2_gets_the_legacy_shell_with_its_exit_code()
    {
        await using var phone = new FakePhone(shellV2: false, statV2: false);
        await server.AttachAsync(phone);
        var client = server.Client;
        Assert.DoesNotContain("shell_v2", await client.GetFeaturesAsync(phone.Serial, Ct));
        var ok = await client.ShellAsync(phone.Serial, "echo hello", cancellationToken: Ct);
        Assert.False(ok.ShellV2);
        Assert.Equal(("hello\n", 0), (ok.Stdout, ok.ExitCode));
        Assert.Equal(3, (await client.ShellAsync(phone.Serial, "exit 3", cancellationToken: Ct)).ExitCode);
        Assert.Contains(phone.Commands, c => c == "exit 3");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Push_writes_the_file_in_chunks_and_stat_sees_it(bool statV2)
    {
        await using var phone = new FakePhone(statV2: statV2);
        await server.AttachAsync(phone);
        var client = server.Client;
        var content = new byte[300_000];
        new Random(5).NextBytes(content);
        const string path = "/data/local/tmp/blob.bin";
        Assert.False((await client.StatAsync(phone.Serial, path, cancellationToken: Ct)).Exists);
        await client.PushAsync(phone.Serial, content, path, cancellationToken: Ct);
        Assert.Equal(content, phone.Files[path]);
        var stat = await client.StatAsync(phone.Serial, path, cancellationToken: Ct);
        Assert.True(stat.Exists);
        Assert.Equal(content.Length, stat.Size);
        Assert.Equal(0x8000u, stat.Mode & 0xf000u);
    }

    [Fact]
    public async Task A_refused_push_carries_the_phone_s_message()
    {
        await using var phone = new FakePhone();
        await server.AttachAsync(phone);
        var e = await Assert.ThrowsAsync<AdbException>(() => server.Client.PushAsync(phone.Serial, Encoding.UTF8.GetBytes("x"), "/system/x", cancellationToken: Ct));
        Assert.False(e.Transient);
        Assert.Contains("Permission denied", e.ServerMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_fail_reply_becomes_an_exception_with_the_server_message()
    {
        var e = await Assert.ThrowsAsync<AdbException>(() => server.Client.ShellAsync("nosuch-serial", "echo x", features: new HashSet<string>(), cancellationToken: Ct));
        Assert.True(e.Transient);
        Assert.Contains("not found", e.ServerMessage, StringComparison.Ordinal);
        Assert.Contains("nosuch-serial", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task No_server_is_a_transient_error_naming_the_address()
    {
        var client = new AdbClient(new AdbServerEndpoint("127.0.0.1", 1), TimeSpan.FromSeconds(5));
        var e = await Assert.ThrowsAsync<AdbException>(() => client.ListDevicesAsync(Ct));
        Assert.True(e.Transient);
        Assert.Contains("127.0.0.1:1", e.Message, StringComparison.Ordinal);
        Assert.Contains("adb start-server", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unauthorized_phone_is_listed_so_and_refuses_services()
    {
        await using var phone = new FakePhone(unauthorized: true);
        await server.AttachAsync(phone, state: "unauthorized");
        var e = await Assert.ThrowsAsync<AdbException>(() => server.Client.ShellAsync(phone.Serial, "echo x", features: new HashSet<string>(), cancellationToken: Ct));
        Assert.True(e.Transient);
        Assert.Contains("unauthorized", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cancellation_stops_a_wait()
    {
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var wait = server.Client.WaitForDeviceAsync("127.0.0.1:9", TimeSpan.FromSeconds(30), cancel.Token);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait);
    }
}
