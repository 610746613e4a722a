using System.Diagnostics;
using System.Globalization;
using MnasNet.Actors.Settings;

namespace MnasNet.Cluster.Tests;

/// <summary>Two self-signed certificates made by openssl (PKCS#12, password-protected), plus malformed variants.</summary>
public sealed class SelfSignedCertificates : IDisposable
{
    private readonly TempDir _dir = new();

    public SelfSignedCertificates()
    {
        A = Make("a", PasswordA);
        B = Make("b", PasswordB);
        Unprotected = Export("a", "a-unprotected.pfx", "");
        WithoutKey = _dir.File("a-nokey.pfx");
        OpenSsl("pkcs12", "-export", "-nokeys", "-in", _dir.File("a.crt"), "-out", WithoutKey, "-passout", "pass:");
    }

    public const string PasswordA = "pass-a";
    public const string PasswordB = "pass-b";

    public string A { get; }
    public string B { get; }
    public string Unprotected { get; }
    public string WithoutKey { get; }
    public string PemCertificate => _dir.File("a.crt");

    public string File(string name) => _dir.File(name);

    private string Make(string name, string password)
    {
        OpenSsl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", $"/CN=mnasnet-{name}",
            "-keyout", _dir.File($"{name}.key"), "-out", _dir.File($"{name}.crt"));
        return Export(name, $"{name}.pfx", password);
    }

    private string Export(string name, string file, string password)
    {
        var path = _dir.File(file);
        OpenSsl("pkcs12", "-export", "-inkey", _dir.File($"{name}.key"), "-in", _dir.File($"{name}.crt"), "-out", path, "-passout", $"pass:{password}");
        return path;
    }

    private static void OpenSsl(params string[] args)
    {
        var info = new ProcessStartInfo("openssl") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }
        using var process = Process.Start(info)!;
        var error = process.StandardError.ReadToEndAsync();
        _ = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromSeconds(30)) || process.ExitCode != 0)
        {
            throw new InvalidOperationException($"openssl {string.Join(' ', args)} failed: {error.Result}");
        }
    }

    public void Dispose() => _dir.Dispose();
}

/// <summary>Loading the node's certificate, pinning peers to it, and seed addresses: in-process, no cluster.</summary>
public sealed class ClusterTlsSettingsTests(SelfSignedCertificates certificates) : IClassFixture<SelfSignedCertificates>
{
    private static Func<string, string?> Environment(string? password) => name => name == ClusterTls.PasswordEnvironmentVariable ? password : null;

    private static ClusterTlsSettings Tls(string file, string passwordFile = "") => new() { Enabled = true, CertificateFile = file, PasswordFile = passwordFile };

    [Fact]
    public void EnabledWithoutACertificateFileIsRejected()
    {
        var e = Assert.Throws<SettingsException>(() => SettingsValidation.Validate(new SearchSettings
        {
            Mode = SearchMode.Simulated,
            Latency = new LatencySettings { Backend = "simulated" },
            Cluster = new ClusterSettings { Tls = new ClusterTlsSettings { Enabled = true } },
        }));
        Assert.Contains("cluster.tls.certificateFile is empty", e.Message);
    }

    [Fact]
    public void CertificateOpensWithThePasswordFromTheEnvironmentOrAFile()
    {
        using var fromEnvironment = ClusterTls.LoadCertificate(Tls(certificates.A), Environment(SelfSignedCertificates.PasswordA));
        Assert.True(fromEnvironment.HasPrivateKey);
        Assert.Equal("CN=mnasnet-a", fromEnvironment.Subject);

        var passwordFile = certificates.File("password-b");
        File.WriteAllText(passwordFile, SelfSignedCertificates.PasswordB + "\n");
        using var fromFile = ClusterTls.LoadCertificate(Tls(certificates.B, passwordFile), Environment("ignored: the file wins"));
        Assert.Equal("CN=mnasnet-b", fromFile.Subject);

        using var unprotected = ClusterTls.LoadCertificate(Tls(certificates.Unprotected), Environment(null));
        Assert.Equal(fromEnvironment.Thumbprint, unprotected.Thumbprint);
    }

    [Fact]
    public void UnusableCertificatesAreNamedWithTheirProblem()
    {
        string Problem(ClusterTlsSettings tls, string? password) => Assert.Throws<SettingsException>(() => ClusterTls.LoadCertificate(tls, Environment(password))).Message;

        Assert.Contains("'missing.pfx' does not exist", Problem(Tls("missing.pfx"), SelfSignedCertificates.PasswordA));
        var wrong = Problem(Tls(certificates.A), "not-the-password");
        Assert.Contains("cannot be opened as PKCS#12", wrong);
        Assert.Contains($"the password from {ClusterTls.PasswordEnvironmentVariable}", wrong);
        Assert.Contains($"no password (set {ClusterTls.PasswordEnvironmentVariable}", Problem(Tls(certificates.A), null));
        Assert.Contains("cannot be opened as PKCS#12", Problem(Tls(certificates.PemCertificate), null));
        Assert.Contains("has no private key", Problem(Tls(certificates.WithoutKey), null));
        Assert.Contains("cluster.tls.passwordFile 'no-such-password' cannot be read", Problem(Tls(certificates.A, "no-such-password"), null));
    }

    [Fact]
    public void OnlyTheClusterCertificateIsAcceptedAndOnlyWhileItIsValid()
    {
        using var a = ClusterTls.LoadCertificate(Tls(certificates.A), Environment(SelfSignedCertificates.PasswordA));
        using var b = ClusterTls.LoadCertificate(Tls(certificates.B), Environment(SelfSignedCertificates.PasswordB));

        Assert.Null(ClusterTls.Rejection(a, a, DateTime.Now));
        var other = ClusterTls.Rejection(b, a, DateTime.Now);
        Assert.Contains("'CN=mnasnet-b'", other);
        Assert.Contains("is not this cluster's certificate", other);
        Assert.Contains("no certificate", ClusterTls.Rejection(null, a, DateTime.Now));
        Assert.Contains("is valid from", ClusterTls.Rejection(a, a, a.NotAfter.AddMinutes(1)));
        Assert.Contains("is valid from", ClusterTls.Rejection(a, a, a.NotBefore.AddMinutes(-1)));
    }

    [Fact]
    public void SeedAddressesFollowTheTransport()
    {
        Assert.Equal(["akka.ssl.tcp://mnasnet@10.0.0.1:4053", "akka.ssl.tcp://mnasnet@host:4054"],
            ClusterTls.SeedNodes(["akka.tcp://mnasnet@10.0.0.1:4053", "akka.ssl.tcp://mnasnet@host:4054"], tls: true));
        Assert.Equal(["akka.tcp://mnasnet@10.0.0.1:4053"], ClusterTls.SeedNodes(["akka.tcp://mnasnet@10.0.0.1:4053"], tls: false));
        var e = Assert.Throws<SettingsException>(() => ClusterTls.SeedNodes(["akka.ssl.tcp://mnasnet@host:4054"], tls: false));
        Assert.Contains("cluster.tls.enabled is false", e.Message);
    }
}

/// <summary>
/// Real `mnasnet node` processes on 127.0.0.1: a TLS seed with certificate A; a node with A joins, a node with a
/// different self-signed certificate B and a node without TLS do not. Synchronised on output lines, never on sleeps.
/// </summary>
public sealed class ClusterTlsProcessTests(SelfSignedCertificates certificates) : IClassFixture<SelfSignedCertificates>, IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);
    private readonly TempDir _dir = new();
    private readonly List<MnasNetProcess> _processes = [];

    private MnasNetProcess StartNode(int port, int seedPort, string? certificate, Dictionary<string, string>? environment = null, params string[] extra)
    {
        var settings = Simulated.Settings(_dir.Path, "tls") with
        {
            // Node logs in the process output: the refused handshakes and the seed's view of who joins.
            Logging = new LoggingSettings { Level = "Information", Console = true },
        };
        var config = _dir.File("tls.json");
        if (!File.Exists(config))
        {
            Simulated.WriteConfig(_dir, settings);
        }
        string[] args = ["node", "--roles", "trainer", "--trainers", "1", "--config", config, "--port", P(port), "--seed-nodes", $"akka.tcp://mnasnet@127.0.0.1:{P(seedPort)}"];
        if (certificate is not null)
        {
            args = [.. args, "--set", "cluster.tls.enabled=true", "--set", $"cluster.tls.certificateFile={certificate}"];
        }
        var p = MnasNetProcess.Start(_dir.Path, environment ?? new(), [.. args, .. extra]);
        _processes.Add(p);
        return p;
    }

    private static string P(int port) => port.ToString(CultureInfo.InvariantCulture);

    [Fact]
    public async Task OnlyNodesWithTheClusterCertificateJoin()
    {
        var withA = new Dictionary<string, string> { [ClusterTls.PasswordEnvironmentVariable] = SelfSignedCertificates.PasswordA };
        var seedPort = PostgresServer.FreePort();
        var seed = StartNode(seedPort, seedPort, certificates.A, withA);
        var missing = StartNode(PostgresServer.FreePort(), seedPort, _dir.File("missing.pfx"), withA);
        await seed.WaitForOutputAsync($"member up: akka.ssl.tcp://mnasnet@127.0.0.1:{P(seedPort)}", Bound);

        var (goodPort, badPort, plainPort) = (PostgresServer.FreePort(), PostgresServer.FreePort(), PostgresServer.FreePort());
        var good = StartNode(goodPort, seedPort, certificates.A, withA);
        var passwordB = _dir.File("password-b");
        File.WriteAllText(passwordB, SelfSignedCertificates.PasswordB);
        var bad = StartNode(badPort, seedPort, certificates.B, null, "--set", $"cluster.tls.passwordFile={passwordB}");
        var plain = StartNode(plainPort, seedPort, certificate: null);

        // Same certificate: joins, and the seed sees it join.
        await good.WaitForOutputAsync($"member up: akka.ssl.tcp://mnasnet@127.0.0.1:{P(goodPort)}", Bound);
        await seed.WaitForOutputAsync($"Node [akka.ssl.tcp://mnasnet@127.0.0.1:{P(goodPort)}] is JOINING", Bound);

        // Another self-signed certificate: the seed refuses it, it refuses the seed's, and the node stops with an error.
        await seed.WaitForOutputAsync("cluster TLS: refused", Bound);
        Assert.Equal(3, await bad.WaitAsync(Bound));
        Assert.Contains("the certificate 'CN=mnasnet-b'", seed.Output);
        Assert.Contains("the certificate 'CN=mnasnet-a'", bad.Output);
        Assert.Contains("error: this node stopped: TLS handshake failed", bad.Output);

        // No TLS: the seed drops its plain-text connection; the node keeps trying and never gets in.
        await plain.WaitForOutputAsync("Couldn't join seed nodes after", Bound);
        Assert.Contains("not an SSL/TLS record", seed.Output);

        Assert.DoesNotContain("member up", bad.Output);
        Assert.DoesNotContain("member up", plain.Output);
        Assert.DoesNotContain($":{P(badPort)}] is JOINING", seed.Output);
        Assert.DoesNotContain($":{P(plainPort)}] is JOINING", seed.Output);

        // TLS on without a readable certificate: a clear error before joining.
        Assert.Equal(3, await missing.WaitAsync(Bound));
        Assert.Contains("error: cluster.tls.certificateFile", missing.Output);
        Assert.Contains("missing.pfx' does not exist", missing.Output);
    }

    public void Dispose()
    {
        foreach (var p in _processes)
        {
            p.Dispose();
        }
        _dir.Dispose();
    }
}
