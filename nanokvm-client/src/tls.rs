//! TLS trust options: the system's roots, a custom CA, or a pinned certificate.
//!
//! NanoKVMs ship self-signed certificates, so the useful choices are a CA the operator
//! installed on the device or pinning the device certificate's SHA-256 fingerprint. A pin
//! replaces chain and name checks, but the handshake signature is still verified, so a
//! man in the middle cannot reuse the certificate without its private key.
//!
//! All options use rustls with the `ring` provider; the same configuration serves HTTP
//! (reqwest) and the WebSocket.

use std::fmt;
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, OtherError};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use sha2::{Digest, Sha256};

use crate::error::{BoxError, Error, Result};

/// Which certificates the client trusts for `https://` and `wss://` URLs.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum TlsTrust {
    /// The operating system's trust store (the default).
    #[default]
    SystemRoots,
    /// Only these CA certificates (DER).
    CustomCa(Vec<CertificateDer<'static>>),
    /// Exactly the certificate whose DER encoding has this SHA-256 digest.
    Pinned(CertificateFingerprint),
}

impl fmt::Debug for TlsTrust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SystemRoots => f.write_str("SystemRoots"),
            Self::CustomCa(certs) => write!(f, "CustomCa({} certificates)", certs.len()),
            Self::Pinned(fp) => write!(f, "Pinned({fp})"),
        }
    }
}

/// A SHA-256 certificate fingerprint.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CertificateFingerprint([u8; 32]);

impl CertificateFingerprint {
    /// The fingerprint of a DER-encoded certificate.
    #[must_use]
    pub fn of_der(der: &[u8]) -> Self {
        Self(Sha256::digest(der).into())
    }

    /// Parses 64 hexadecimal digits, optionally separated by `:` or spaces, as
    /// `openssl x509 -fingerprint -sha256` prints them (its `sha256 Fingerprint=` label
    /// included), optionally after a `sha256:` prefix as config files write them.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the text is not 32 bytes of hexadecimal.
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        let text = ["sha256 Fingerprint=", "sha256:"]
            .iter()
            .find_map(|prefix| {
                text.get(..prefix.len())
                    .filter(|head| head.eq_ignore_ascii_case(prefix))
                    .map(|_| &text[prefix.len()..])
            })
            .unwrap_or(text);
        let hex: String = text.chars().filter(|c| !matches!(c, ':' | ' ')).collect();
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::config(
                "a SHA-256 fingerprint is 64 hexadecimal digits (colons allowed)",
            ));
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)
                .map_err(|_| Error::config("invalid hexadecimal in fingerprint"))?;
        }
        Ok(Self(out))
    }

    /// The 32 digest bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for CertificateFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

/// Serializes like `Display`: colon-separated upper-case hexadecimal.
impl serde::Serialize for CertificateFingerprint {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl fmt::Debug for CertificateFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CertificateFingerprint({self})")
    }
}

/// The fingerprint of the certificate the device at `url` (`https://host[:port]`)
/// presents now, for pinning with [`TlsTrust::Pinned`] (or `tls_fingerprint` in a
/// device configuration).
///
/// Nothing is trusted here: whoever answers at `url` now is who is fingerprinted (the
/// handshake only proves that it holds the certificate's key). Compare the result with
/// what the device itself shows (its web UI, or `openssl x509 -fingerprint -sha256` on
/// the device) before relying on it.
///
/// # Errors
///
/// [`Error::InvalidInput`] for a URL that is not `https://`; [`Error::Timeout`] when the
/// device does not finish the handshake within `timeout`; [`Error::Connection`] when
/// it cannot be reached or the handshake fails.
pub async fn fetch_fingerprint(
    url: &str,
    timeout: std::time::Duration,
) -> Result<CertificateFingerprint> {
    let parsed = reqwest::Url::parse(url).map_err(|e| Error::invalid(format!("bad URL: {e}")))?;
    if parsed.scheme() != "https" {
        return Err(Error::invalid(
            "only an https:// URL has a certificate to fingerprint",
        ));
    }
    let host = parsed
        .host_str()
        .ok_or_else(|| Error::invalid("the URL has no host"))?
        .trim_matches(['[', ']'])
        .to_owned();
    let port = parsed.port().unwrap_or(443);
    let endpoint = format!("TLS handshake with {host}:{port}");
    let connection = |source: BoxError| Error::Connection {
        endpoint: endpoint.clone(),
        source,
    };
    let provider = provider();
    let config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::config(format!("tls: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedVerifier {
            fingerprint: None,
            provider,
        }))
        .with_no_client_auth();
    let name = ServerName::try_from(host.clone()).map_err(|e| connection(Box::new(e)))?;
    let handshake = async {
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| connection(Box::new(e)))?;
        tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .map_err(|e| connection(Box::new(e)))
    };
    let stream = tokio::time::timeout(timeout, handshake)
        .await
        .map_err(|_| Error::Timeout {
            endpoint: endpoint.clone(),
            after: timeout,
        })??;
    let (_, session) = stream.get_ref();
    session
        .peer_certificates()
        .and_then(<[_]>::first)
        .map(|der| CertificateFingerprint::of_der(der))
        .ok_or_else(|| connection("the device presented no certificate".into()))
}

/// Reads every certificate from PEM text.
pub(crate) fn certificates_from_pem(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem)
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::config(format!("cannot read PEM certificates: {e}")))?;
    if certs.is_empty() {
        return Err(Error::config("no certificate found in the PEM text"));
    }
    Ok(certs)
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Builds the rustls configuration for a trust option.
pub(crate) fn client_config(trust: &TlsTrust) -> Result<Arc<ClientConfig>> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::config(format!("tls: {e}")))?;
    let config = match trust {
        TlsTrust::SystemRoots => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(SystemVerifier {
                verifier: OnceLock::new(),
                provider,
            }))
            .with_no_client_auth(),
        TlsTrust::CustomCa(certs) => {
            let mut roots = RootCertStore::empty();
            for cert in certs {
                roots
                    .add(cert.clone())
                    .map_err(|e| Error::config(format!("tls: bad CA certificate: {e}")))?;
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        TlsTrust::Pinned(fingerprint) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PinnedVerifier {
                fingerprint: Some(*fingerprint),
                provider,
            }))
            .with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// The platform's verifier, made at the first handshake: reading the system's trust
/// store costs tens of milliseconds, which a client of an `http://` device, the common
/// case, should not pay at start. A system without roots fails that handshake (and every
/// later one) with the reason, instead of failing [`ClientBuilder::build`].
///
/// [`ClientBuilder::build`]: crate::ClientBuilder::build
#[derive(Debug)]
struct SystemVerifier {
    verifier: OnceLock<std::result::Result<rustls_platform_verifier::Verifier, String>>,
    provider: Arc<CryptoProvider>,
}

impl SystemVerifier {
    fn get(&self) -> std::result::Result<&rustls_platform_verifier::Verifier, rustls::Error> {
        self.verifier
            .get_or_init(|| {
                rustls_platform_verifier::Verifier::new(self.provider.clone())
                    .map_err(|e| format!("the system's trusted certificates are unavailable: {e}"))
            })
            .as_ref()
            .map_err(|e| rustls::Error::General(e.clone()))
    }
}

impl ServerCertVerifier for SystemVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        self.get()?
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.get()?.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.get()?.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        // What the platform verifier answers too, without loading the trust store.
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Accepts exactly one certificate, by fingerprint, and still checks that the server
/// holds its private key. Without a fingerprint it accepts any certificate, for
/// [`fetch_fingerprint`], which trusts nothing it learns.
#[derive(Debug)]
struct PinnedVerifier {
    fingerprint: Option<CertificateFingerprint>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let presented = CertificateFingerprint::of_der(end_entity);
        match self.fingerprint {
            Some(pinned) if pinned != presented => Err(rustls::Error::InvalidCertificate(
                CertificateError::Other(OtherError(Arc::new(PinMismatch { presented, pinned }))),
            )),
            _ => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The device presented another certificate than the pinned one.
#[derive(Debug)]
struct PinMismatch {
    presented: CertificateFingerprint,
    pinned: CertificateFingerprint,
}

impl fmt::Display for PinMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the device's certificate has SHA-256 fingerprint {}, not the pinned {}",
            self.presented, self.pinned
        )
    }
}

impl std::error::Error for PinMismatch {}

/// Why a TLS handshake failed, when `error` or one of its sources is a rustls error.
///
/// I/O errors are looked into explicitly: `io::Error::source` skips the error it wraps,
/// and rustls failures travel wrapped in one or two of them through hyper and
/// tokio-rustls.
pub(crate) fn handshake_failure(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(describe(tls));
        }
        current = match e
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            Some(inner) => Some(inner),
            None => e.source(),
        };
    }
    None
}

fn describe(error: &rustls::Error) -> String {
    if let rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(inner))) = error {
        if let Some(pin) = inner.downcast_ref::<PinMismatch>() {
            return pin.to_string();
        }
    }
    error.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_parse_in_openssl_format() {
        let colons = (0..32)
            .map(|i| format!("{i:02X}"))
            .collect::<Vec<_>>()
            .join(":");
        let fp = CertificateFingerprint::parse(&colons).unwrap();
        assert_eq!(fp.as_bytes()[31], 31);
        assert_eq!(fp.to_string(), colons);
        let plain = colons.replace(':', "").to_lowercase();
        assert_eq!(CertificateFingerprint::parse(&plain).unwrap(), fp);
        let prefixed = format!("sha256:{colons}");
        assert_eq!(CertificateFingerprint::parse(&prefixed).unwrap(), fp);
        let upper = format!("SHA256:{plain}");
        assert_eq!(CertificateFingerprint::parse(&upper).unwrap(), fp);
        assert!(CertificateFingerprint::parse("sha256:AB:CD").is_err());
        assert!(CertificateFingerprint::parse("AB:CD").is_err());
        assert!(CertificateFingerprint::parse(&"zz".repeat(32)).is_err());
    }

    #[test]
    fn pinned_verifier_accepts_only_the_pinned_certificate() {
        let der = CertificateDer::from(vec![1u8, 2, 3]);
        let other = CertificateDer::from(vec![4u8]);
        let verifier = PinnedVerifier {
            fingerprint: Some(CertificateFingerprint::of_der(&der)),
            provider: provider(),
        };
        let name = ServerName::try_from("nanokvm.local").unwrap();
        assert!(
            verifier
                .verify_server_cert(&der, &[], &name, &[], UnixTime::now())
                .is_ok()
        );
        let err = verifier
            .verify_server_cert(&other, &[], &name, &[], UnixTime::now())
            .unwrap_err();
        // hyper wraps the rustls error in two I/O errors.
        let wrapped =
            std::io::Error::other(std::io::Error::new(std::io::ErrorKind::InvalidData, err));
        let reason = handshake_failure(&wrapped).unwrap();
        assert_eq!(
            reason,
            format!(
                "the device's certificate has SHA-256 fingerprint {}, not the pinned {}",
                CertificateFingerprint::of_der(&other),
                CertificateFingerprint::of_der(&der)
            )
        );
        assert_eq!(handshake_failure(&std::io::Error::other("plain")), None);
        assert!(!verifier.supported_verify_schemes().is_empty());
    }

    #[test]
    fn every_trust_option_builds() {
        assert!(client_config(&TlsTrust::SystemRoots).is_ok());
        let fp = CertificateFingerprint::of_der(b"x");
        assert!(client_config(&TlsTrust::Pinned(fp)).is_ok());
        assert!(certificates_from_pem(b"not pem").is_err());
    }
}
