//! Running the binary in a clean environment, against a simulator the test holds.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use nanokvm_sim::{Simulator, SimulatorBuilder, TimeScale};

/// The client tests' self-signed certificate and key (see their `tls/README.md`).
const TEST_CERT: &[u8] = include_bytes!("../../../nanokvm-client/tests/it/tls/server.pem");
const TEST_KEY: &[u8] = include_bytes!("../../../nanokvm-client/tests/it/tls/server.key");
/// `openssl x509 -noout -fingerprint -sha256` of [`TEST_CERT`].
pub const TEST_CERT_SHA256: &str =
    include_str!("../../../nanokvm-client/tests/it/tls/server.sha256");

/// The password of the test simulators, passed through this variable.
pub const PASSWORD_VAR: &str = "NANOKVM_TEST_PASSWORD";

/// A simulator on a runtime of its own, so that the test thread can run the binary.
pub struct Sim {
    pub sim: Simulator,
    runtime: tokio::runtime::Runtime,
}

impl Sim {
    /// A simulator with fast delays, powered on.
    pub fn start() -> Self {
        Self::with(Simulator::builder())
    }

    /// A simulator built from `builder`, with fast delays.
    pub fn with(builder: SimulatorBuilder) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let sim = runtime
            .block_on(builder.time_scale(TimeScale::fast()).start())
            .expect("simulator starts");
        Self { sim, runtime }
    }

    /// An HTTP server on 127.0.0.1 answering every request with `body`, as a place
    /// the device downloads images from.
    pub fn origin(&self, body: Vec<u8>) -> std::net::SocketAddr {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = self
            .runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        self.runtime.spawn(async move {
            while let Ok((mut tcp, _)) = listener.accept().await {
                let body = body.clone();
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match tcp.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = tcp.write_all(head.as_bytes()).await;
                    if !request.starts_with(b"HEAD") {
                        let _ = tcp.write_all(&body).await;
                    }
                });
            }
        });
        addr
    }

    /// A TLS front on 127.0.0.1 before the simulator, presenting the client tests'
    /// self-signed certificate (whose fingerprint is [`TEST_CERT_SHA256`]); returns its
    /// `https://` URL.
    pub fn tls_front(&self) -> String {
        use rustls::pki_types::pem::PemObject as _;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(TEST_CERT)
            .collect::<Result<_, _>>()
            .expect("the test certificate parses");
        let key = PrivateKeyDer::from_pem_slice(TEST_KEY).expect("the test key parses");
        let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("a server configuration");
        let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
        let listener = self
            .runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let url = format!("https://{}", listener.local_addr().expect("address"));
        let upstream = self.sim.addr();
        self.runtime.spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let Ok(mut plain) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
                });
            }
        });
        url
    }

    /// Puts an image file on the device.
    pub fn add_image(&self, name: &str) {
        std::fs::write(self.sim.data_dir().join(name), b"image").expect("image");
    }
}

/// A state directory and config home that belong to one test.
pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).expect("write");
        path
    }

    /// `nanokvm` with nothing from the caller's environment, the state in this test's
    /// directory, and no config file.
    pub fn cmd(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_nanokvm"));
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("NANOKVM_") || key == "NO_COLOR" {
                cmd.env_remove(&key);
            }
        }
        cmd.env("XDG_CONFIG_HOME", self.path("config"))
            .env("NANOKVM_STATE_DIR", self.state())
            .stdin(Stdio::null());
        cmd
    }

    /// `nanokvm --host SIM` with the simulator's password.
    pub fn at(&self, sim: &Sim) -> Command {
        let mut cmd = self.cmd();
        cmd.args(["--host", &sim.sim.url(), "--password-env", PASSWORD_VAR])
            .env(PASSWORD_VAR, "admin");
        cmd
    }
}

/// Runs `cmd` with `args`, feeding `stdin`.
pub fn run(mut cmd: Command, args: &[&str], stdin: Option<&str>) -> Run {
    cmd.args(args);
    let output = match stdin {
        None => cmd.output().expect("runs"),
        Some(text) => {
            use std::io::Write as _;
            cmd.stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let mut child = cmd.spawn().expect("spawns");
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(text.as_bytes())
                .expect("feeds stdin");
            child.wait_with_output().expect("runs")
        }
    };
    Run::from(output)
}

/// What a run printed and how it exited.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub raw_stdout: Vec<u8>,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Self {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
            raw_stdout: o.stdout,
        }
    }
}

impl Run {
    /// Asserts the exit code, showing the output when it differs.
    #[track_caller]
    pub fn code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "exit code; stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// stdout as one JSON document.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}", self.stdout))
    }

    /// stdout as JSON lines.
    #[track_caller]
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }
}

/// A policy allowing everything but the tools named, which it denies.
pub fn policy_denying(tools: &[&str]) -> String {
    let rules: Vec<String> = tools
        .iter()
        .map(|t| format!("\"{t}\": {{\"action\": \"deny\"}}"))
        .collect();
    format!(
        "{{\"version\": \"1\", \"default\": \"allow\", \"tools\": {{{}}}}}",
        rules.join(", ")
    )
}

/// A minimal ISO-9660 image: the `CD001` signature of the primary volume descriptor.
pub fn iso() -> Vec<u8> {
    let mut image = vec![0u8; 0x9000];
    image[0x8001..0x8006].copy_from_slice(b"CD001");
    image
}

/// Whether `path` holds `needle`.
pub fn file_contains(path: &Path, needle: &str) -> bool {
    std::fs::read_to_string(path).is_ok_and(|t| t.contains(needle))
}
