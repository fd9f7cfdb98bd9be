//! HTTPS and WSS: the simulator behind a small TLS front on 127.0.0.1 that presents a
//! test certificate (see `tls/README.md`), with each trust option of the client.
//!
//! The front terminates TLS and copies bytes to the simulator, so everything above TLS
//! (login, the API, the MJPEG stream, the WebSocket) is the simulator's own.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use nanokvm_client::{Client, Error, PasswordEncoding, SecretString};
use nanokvm_hid::Layout;
use nanokvm_sim::{Simulator, TimeScale};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};

const SERVER_PEM: &[u8] = include_bytes!("tls/server.pem");
const SERVER_KEY: &[u8] = include_bytes!("tls/server.key");
const CA_PEM: &[u8] = include_bytes!("tls/ca.pem");
/// `openssl x509 -noout -fingerprint -sha256` of `server.pem`, verbatim.
const SERVER_SHA256: &str = include_str!("tls/server.sha256");
/// A fingerprint of some other certificate.
const OTHER_SHA256: &str = "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF";

/// Starts a TLS front for `upstream` and returns its `https://` URL.
async fn tls_front(upstream: SocketAddr) -> String {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(SERVER_PEM)
        .collect::<Result<_, _>>()
        .expect("the test certificate parses");
    let key = PrivateKeyDer::from_pem_slice(SERVER_KEY).expect("the test key parses");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .expect("a server configuration");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("https://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A refused handshake just ends this connection.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut plain) = TcpStream::connect(upstream).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    url
}

async fn simulator() -> Simulator {
    Simulator::builder()
        .time_scale(TimeScale::fast())
        .resolution(320, 200)
        .start()
        .await
        .expect("the simulator starts")
}

fn builder(url: &str) -> nanokvm_client::ClientBuilder {
    Client::builder(url).credentials("admin", SecretString::from("admin"))
}

#[tokio::test]
async fn a_pinned_certificate_carries_http_websocket_and_mjpeg() {
    let sim = simulator().await;
    let url = tls_front(sim.addr()).await;
    let client = builder(&url)
        .tls_pin_sha256(SERVER_SHA256)
        .build()
        .expect("a valid configuration");
    client.login().await.expect("login over https");
    assert!(client.power().leds().await.expect("LEDs").power);

    let session = client.ws().await.expect("a session over wss");
    session
        .type_text("secure", Layout::Us, Duration::ZERO)
        .await
        .expect("typing");
    let shown = tokio::time::timeout(
        Duration::from_secs(5),
        sim.wait_for(|m| m.screen_text().ends_with("target login: secure")),
    )
    .await;
    assert!(shown.is_ok(), "{}", sim.screen_text());

    let jpeg = client
        .screenshot(Duration::from_secs(5))
        .await
        .expect("a screenshot over https");
    assert!(jpeg.starts_with(&[0xFF, 0xD8]));
    sim.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_custom_ca_is_trusted_and_the_system_roots_are_not_enough() {
    let sim = simulator().await;
    let url = tls_front(sim.addr()).await;
    let trusted = builder(&url).tls_ca_pem(CA_PEM).build().expect("config");
    trusted.login().await.expect("login with the test CA");

    let system = builder(&url).build().expect("config");
    let err = system.login().await.unwrap_err();
    assert!(err.is_tls() && err.is_connection(), "{err:?}");
    // The first request of a client with the `Auto` password encoding is its probe.
    assert!(
        err.to_string().starts_with(
            "GET /api/storage/download/image/enabled: TLS handshake with the device failed: "
        ),
        "{err}"
    );
    sim.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_wrong_pin_fails_clearly_before_anything_is_sent() {
    let sim = simulator().await;
    let url = tls_front(sim.addr()).await;
    let client = builder(&url)
        .tls_pin_sha256(OTHER_SHA256)
        .password_encoding(PasswordEncoding::Obfuscated)
        .build()
        .expect("config");
    let err = client.login().await.unwrap_err();
    assert!(matches!(err, Error::Tls { .. }), "{err:?}");
    let presented = SERVER_SHA256
        .trim()
        .trim_start_matches("sha256 Fingerprint=");
    assert_eq!(
        err.to_string(),
        format!(
            "POST /api/auth/login: TLS handshake with the device failed: the device's \
             certificate has SHA-256 fingerprint {presented}, not the pinned {OTHER_SHA256}"
        )
    );
    // The handshake failed, so the device never saw a request, let alone a password.
    assert!(sim.requests().is_empty(), "{:?}", sim.requests());
    // The same holds for any call, including the WebSocket, which starts with a login.
    let err = client.ws().await.unwrap_err();
    assert!(err.is_tls(), "{err:?}");
    sim.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn the_fingerprint_a_device_presents_can_be_fetched_for_pinning() {
    let sim = simulator().await;
    let url = tls_front(sim.addr()).await;
    let fetched = nanokvm_client::fetch_fingerprint(&url, Duration::from_secs(5))
        .await
        .expect("a fingerprint");
    let expected = nanokvm_client::CertificateFingerprint::parse(SERVER_SHA256).expect("parses");
    assert_eq!(fetched, expected);
    // What was fetched pins the device.
    let client = builder(&url)
        .tls_pin_sha256(fetched.to_string())
        .build()
        .expect("a client");
    client
        .device()
        .info()
        .await
        .expect("info over the pinned connection");

    let plain = nanokvm_client::fetch_fingerprint(
        &format!("http://{}", sim.addr()),
        Duration::from_secs(5),
    )
    .await
    .unwrap_err();
    assert!(plain.is_invalid_input(), "{plain}");
    // Plain HTTP where TLS is expected: the handshake fails, clearly.
    let not_tls = nanokvm_client::fetch_fingerprint(
        &format!("https://{}", sim.addr()),
        Duration::from_secs(5),
    )
    .await
    .unwrap_err();
    assert!(not_tls.is_connection(), "{not_tls}");
}
