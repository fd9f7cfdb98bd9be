//! A minimal HTTP/1.1 client over a TCP stream, and simulator helpers.

use std::net::SocketAddr;

use nanokvm_sim::{FirmwareVersion, Simulator, SimulatorBuilder, TimeScale, encrypt_password};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One HTTP response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// Sends one request with `Connection: close` and reads the whole answer.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    body: Option<&str>,
) -> Reply {
    request_with(addr, method, path, cookie, body, &[]).await
}

/// [`request`] with extra header lines (`Name: value`).
pub async fn request_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    body: Option<&str>,
    extra: &[&str],
) -> Reply {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for line in extra {
        head.push_str(line);
        head.push_str("\r\n");
    }
    if let Some(c) = cookie {
        head.push_str(&format!("Cookie: nano-kvm-token={c}\r\n"));
    }
    if let Some(b) = body {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    head.push_str("\r\n");
    raw(addr, format!("{head}{}", body.unwrap_or("")).as_bytes()).await
}

/// Sends raw bytes and parses the answer.
pub async fn raw(addr: SocketAddr, bytes: &[u8]) -> Reply {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(bytes).await.unwrap();
    let mut buf = Vec::new();
    tcp.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Reply {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// A builder with fast delays.
pub fn fast() -> SimulatorBuilder {
    Simulator::builder().time_scale(TimeScale::fast())
}

pub async fn start(firmware: FirmwareVersion) -> Simulator {
    fast().firmware(firmware).start().await.unwrap()
}

/// Logs in and returns the session token, from the cookie (2.5.1) or `data.token`.
pub async fn login_as(sim: &Simulator, user: &str, password: &str) -> String {
    let body = format!(
        r#"{{"username":"{user}","password":"{}"}}"#,
        encrypt_password(password)
    );
    let r = request(sim.addr(), "POST", "/api/auth/login", None, Some(&body)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    if let Some(cookie) = r.header("set-cookie") {
        let value = cookie.split(';').next().unwrap();
        return value.strip_prefix("nano-kvm-token=").unwrap().to_owned();
    }
    r.json()["data"]["token"].as_str().unwrap().to_owned()
}

pub async fn login(sim: &Simulator) -> String {
    login_as(sim, "admin", "admin").await
}

pub const ALL: [FirmwareVersion; 3] = [
    FirmwareVersion::V2_3_1,
    FirmwareVersion::V2_5_0,
    FirmwareVersion::V2_5_1,
];
