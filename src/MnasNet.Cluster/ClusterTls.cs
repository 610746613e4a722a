using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Akka.Actor;
using Akka.Event;
using Akka.Remote.Hosting;
using Akka.Remote.Transport.DotNetty;
using MnasNet.Actors.Settings;

namespace MnasNet.Cluster;

/// <summary>
/// TLS between cluster nodes: Akka.Remote's DotNetty transport with mutual authentication, every node holding the
/// same certificate. A peer is accepted when it proves in the handshake that it holds the private key of a
/// certificate whose SHA-256 equals this node's certificate's, while that certificate is valid (not before, not
/// after). Not checked: chain of trust, host names, revocation — the certificate is pinned, so a self-signed one
/// works, and anyone holding the certificate file (and its password) can join.
/// </summary>
public static class ClusterTls
{
    public const string PasswordEnvironmentVariable = "MNASNET_TLS_PASSWORD";
    public const string PlainProtocol = "akka.tcp";
    /// <summary>Akka.Remote addresses a TLS node with this protocol (the transport's scheme becomes ssl.tcp).</summary>
    public const string TlsProtocol = "akka.ssl.tcp";

    /// <summary>Remoting of this node: plain TCP, or with cluster.tls.enabled TLS pinned to the cluster's certificate.</summary>
    public static RemoteOptions Remoting(ClusterNodeOptions node, ClusterTlsSettings tls, Func<string, string?>? environment = null)
    {
        var options = new RemoteOptions { HostName = node.Hostname, Port = node.Port };
        if (!tls.Enabled)
        {
            return options;
        }
        var certificate = LoadCertificate(tls, environment);
        options.EnableSsl = true;
        options.Ssl = new SslOptions
        {
            X509Certificate = certificate,
            RequireMutualAuthentication = true,
            // One certificate for every node, reached by IP or any name: the pin is the check, not the name.
            ValidateCertificateHostname = false,
            CustomValidator = PinnedTo(certificate),
        };
        return options;
    }

    /// <summary>
    /// Seed addresses in the form this node's transport speaks: with TLS, akka.tcp:// seeds become akka.ssl.tcp://
    /// (so one address list serves both); without TLS an akka.ssl.tcp:// seed is an error.
    /// </summary>
    public static IReadOnlyList<string> SeedNodes(IEnumerable<string> seeds, bool tls) => [.. seeds.Select(seed =>
    {
        var address = Address.Parse(seed);
        return (address.Protocol, tls) switch
        {
            (PlainProtocol, true) => address.WithProtocol(TlsProtocol).ToString(),
            (TlsProtocol, false) => throw new SettingsException($"seed node '{seed}' is a TLS address ({TlsProtocol}) but cluster.tls.enabled is false on this node"),
            _ => seed,
        };
    })];

    /// <summary>The node's certificate with its private key, or a <see cref="SettingsException"/> naming what is wrong.</summary>
    public static X509Certificate2 LoadCertificate(ClusterTlsSettings tls, Func<string, string?>? environment = null)
    {
        var file = tls.CertificateFile;
        if (!File.Exists(file))
        {
            var where = Path.IsPathRooted(file) ? "" : $" (resolved to {Path.GetFullPath(file)})";
            throw new SettingsException($"cluster.tls.certificateFile '{file}' does not exist{where}");
        }
        var (password, source) = Password(tls, environment ?? Environment.GetEnvironmentVariable);
        X509Certificate2 certificate;
        try
        {
            certificate = X509CertificateLoader.LoadPkcs12FromFile(file, password, X509KeyStorageFlags.EphemeralKeySet);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SettingsException($"cluster.tls.certificateFile '{file}' cannot be read: {e.Message}");
        }
        catch (CryptographicException e)
        {
            throw new SettingsException($"cluster.tls.certificateFile '{file}' cannot be opened as PKCS#12 (.pfx) with {source}: {e.Message}");
        }
        if (!certificate.HasPrivateKey)
        {
            certificate.Dispose();
            throw new SettingsException($"cluster.tls.certificateFile '{file}' has no private key: export the certificate with its key (openssl pkcs12 -export -inkey KEY -in CERT)");
        }
        if (Rejection(certificate, certificate, DateTime.Now) is { } problem)
        {
            certificate.Dispose();
            throw new SettingsException($"cluster.tls.certificateFile '{file}': {problem}");
        }
        return certificate;
    }

    /// <summary>Why a peer's certificate is refused, or null when it is the pinned certificate and valid at <paramref name="now"/>.</summary>
    public static string? Rejection(X509Certificate2? peer, X509Certificate2 pinned, DateTime now)
    {
        if (peer is null)
        {
            return "no certificate was presented";
        }
        if (!peer.GetCertHash(HashAlgorithmName.SHA256).AsSpan().SequenceEqual(pinned.GetCertHash(HashAlgorithmName.SHA256)))
        {
            return $"the certificate '{peer.Subject}' (SHA-256 {peer.GetCertHashString(HashAlgorithmName.SHA256)}) is not this cluster's certificate (SHA-256 {pinned.GetCertHashString(HashAlgorithmName.SHA256)})";
        }
        if (now < peer.NotBefore || now > peer.NotAfter)
        {
            return $"the certificate '{peer.Subject}' is valid from {peer.NotBefore:u} to {peer.NotAfter:u} only";
        }
        return null;
    }

    private static CertificateValidationCallback PinnedTo(X509Certificate2 pinned) => (peer, _, remote, _, log) =>
    {
        if (Rejection(peer, pinned, DateTime.Now) is not { } problem)
        {
            return true;
        }
        log.Warning("cluster TLS: refused {0}: {1}", remote, problem);
        return false;
    };

    private static (string? Password, string Source) Password(ClusterTlsSettings tls, Func<string, string?> environment)
    {
        if (tls.PasswordFile.Length > 0)
        {
            try
            {
                return (File.ReadAllText(tls.PasswordFile).TrimEnd('\r', '\n'), $"the password from cluster.tls.passwordFile '{tls.PasswordFile}'");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new SettingsException($"cluster.tls.passwordFile '{tls.PasswordFile}' cannot be read: {e.Message}");
            }
        }
        return environment(PasswordEnvironmentVariable) is { } fromEnvironment
            ? (fromEnvironment, $"the password from {PasswordEnvironmentVariable}")
            : (null, $"no password (set {PasswordEnvironmentVariable} or cluster.tls.passwordFile)");
    }
}
