//! Secrets never leave as text: passwords, the obfuscated password, session tokens and
//! typed secrets appear in no log record (ours through `tracing`, our dependencies'
//! through `log`), no error message and no `Debug` output, across logins, re-logins,
//! WebSocket upgrades and reconnects, and failures.
//!
//! The capture is process-wide, so it is installed once; a control first proves that it
//! would catch the leak it is there for (tungstenite's client handshake logs its whole
//! request, cookie included, at trace level).

use std::fmt::Write as _;
use std::sync::{Mutex, Once};
use std::time::Duration;

use nanokvm_client::{Client, Error, SecretString, WsSession};
use nanokvm_hid::Layout;
use nanokvm_sim::{FirmwareVersion, Simulator, TimeScale};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn push(line: String) {
    LINES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(line);
}

fn captured() -> Vec<String> {
    LINES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
}

/// Records every `log` record, at every level.
struct LogCapture;

impl log::Log for LogCapture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        push(format!("log {}: {}", record.target(), record.args()));
    }

    fn flush(&self) {}
}

/// Records every `tracing` event and span with all its fields.
struct TracingCapture;

struct Fields(String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={value:?}", field.name());
    }
}

impl tracing::Subscriber for TracingCapture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let mut fields = Fields(format!("span {}:", span.metadata().name()));
        span.record(&mut fields);
        push(fields.0);
        tracing::span::Id::from_u64(1)
    }

    fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        let mut fields = Fields("span record:".to_owned());
        values.record(&mut fields);
        push(fields.0);
    }

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = Fields(format!("tracing {}:", event.metadata().target()));
        event.record(&mut fields);
        push(fields.0);
    }

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}

fn install_capture() {
    static LOGGER: LogCapture = LogCapture;
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Another test binary in this process may have installed its own already; the
        // control below then fails loudly rather than passing blind.
        let _ = log::set_logger(&LOGGER);
        log::set_max_level(log::LevelFilter::Trace);
        let _ = tracing::subscriber::set_global_default(TracingCapture);
    });
}

const PASSWORD: &str = "Sup3r-Secret-Pass!";
const WRONG_PASSWORD: &str = "Wr0ng-Secret-Pass?";
const TYPED: &str = "typed-Secret-Words";
const UNTYPEABLE: &str = "paesswort-Secret-\u{436}";
const WIFI_PASSWORD: &str = "W1fi-Secret-Pass";
const CONTROL: &str = "control-cookie-value";

/// What must never appear: the secrets, the `Salted__` prefix of any obfuscated password
/// in Base64, the header of any JWT (`{"` in Base64), and a session cookie.
const FORBIDDEN: [&str; 8] = [
    PASSWORD,
    WRONG_PASSWORD,
    TYPED,
    "Secret-\u{436}",
    WIFI_PASSWORD,
    "U2FsdGVkX1",
    "eyJ",
    "nano-kvm-token=",
];

async fn connected(session: &WsSession, n: u64) {
    let mut connections = session.watch_connections();
    tokio::time::timeout(Duration::from_secs(5), connections.wait_for(|c| *c >= n))
        .await
        .expect("the session reconnects within 5 s")
        .expect("the session task is alive");
}

fn client(sim: &Simulator, password: &str) -> Client {
    Client::builder(sim.url())
        .credentials("admin", SecretString::from(password))
        .timeout(Duration::from_secs(5))
        .build()
        .expect("a valid configuration")
}

fn shown(err: &Error) -> String {
    format!("{err} | {err:?}")
}

#[tokio::test]
async fn secrets_stay_out_of_logs_errors_and_debug_output() {
    install_capture();
    let sim = Simulator::builder()
        .firmware(FirmwareVersion::V2_5_1)
        .credentials("admin", PASSWORD)
        .time_scale(TimeScale::fast())
        .resolution(320, 200)
        .start()
        .await
        .expect("the simulator starts");

    // Control: a plain tungstenite client handshake with a made-up cookie. It is refused
    // (401), but tungstenite has logged the request by then.
    let mut request = format!("ws://{}/api/ws", sim.addr())
        .into_client_request()
        .expect("a request");
    request.headers_mut().insert(
        "cookie",
        format!("nano-kvm-token={CONTROL}")
            .parse()
            .expect("a header value"),
    );
    let tcp = tokio::net::TcpStream::connect(sim.addr())
        .await
        .expect("connect");
    let _ = tokio_tungstenite::client_async(request, tcp).await;
    assert!(
        captured().iter().any(|l| l.contains(CONTROL)),
        "the capture must see tungstenite's request log"
    );

    let mut outputs = Vec::new();
    let client = client(&sim, PASSWORD);
    outputs.push(format!("{client:?}"));
    outputs.push(format!(
        "{:?}",
        Client::builder(sim.url()).credentials("admin", SecretString::from(PASSWORD))
    ));
    client.login().await.expect("login");
    client.power().leds().await.expect("LEDs");

    let session = client.ws().await.expect("a session");
    outputs.push(format!("{session:?}"));
    session
        .type_secret(&SecretString::from(TYPED), Layout::Us, Duration::ZERO)
        .await
        .expect("typing a secret");
    // Reconnects: after a dropped socket, and after a revocation (4401, then a new login
    // and a new token).
    sim.drop_websockets();
    connected(&session, 2).await;
    sim.revoke_sessions("admin");
    connected(&session, 3).await;
    // An expired session on HTTP: 401, a new login, the read repeated.
    sim.expire_sessions();
    client.power().leds().await.expect("LEDs after expiry");
    assert!(client.login_count().await >= 3);

    let err = session
        .type_secret(&SecretString::from(UNTYPEABLE), Layout::Us, Duration::ZERO)
        .await
        .expect_err("a Cyrillic letter on a US layout");
    assert!(err.is_invalid_input(), "{err:?}");
    assert_eq!(
        err.to_string(),
        "invalid input: the secret has 1 character(s) the us layout cannot type"
    );
    outputs.push(shown(&err));

    let err = client
        .network()
        .connect_wifi("lab", &SecretString::from(WIFI_PASSWORD))
        .await
        .expect_err("the simulator has no Wi-Fi");
    outputs.push(shown(&err));

    let wrong = self::client(&sim, WRONG_PASSWORD);
    let err = wrong.login().await.expect_err("a wrong password");
    assert!(matches!(err, Error::AuthenticationFailed), "{err:?}");
    outputs.push(shown(&err));
    outputs.push(format!("{wrong:?}"));

    drop(session);
    sim.shutdown().await.expect("clean shutdown");

    let lines = captured();
    assert!(
        lines.iter().any(|l| l.contains("logged in")),
        "the capture must see the client's own tracing events"
    );
    for line in lines.iter().filter(|l| !l.contains(CONTROL)) {
        for secret in FORBIDDEN {
            assert!(!line.contains(secret), "{secret:?} logged: {line}");
        }
    }
    for output in &outputs {
        for secret in FORBIDDEN {
            assert!(!output.contains(secret), "{secret:?} shown: {output}");
        }
    }
}
