//! The WebSocket opening handshake for `/api/ws`, as pure functions.
//!
//! The client writes the upgrade request itself instead of letting tungstenite do it,
//! because tungstenite logs the whole request, `Cookie` header included, at trace level:
//! anyone running with trace logging on would find the session token in their logs. Here
//! the request is built in memory, never logged, and only the response's status and the
//! `Sec-WebSocket-Accept` check matter.

use secrecy::{ExposeSecret, SecretString};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use crate::client::COOKIE_NAME;

/// The largest response head accepted, to bound memory use.
pub(crate) const MAX_HEAD: usize = 16 * 1024;

/// Why an upgrade request could not be built.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum BadRequest {
    /// The session token holds characters a header cannot carry.
    Token,
}

/// The upgrade request for `path` on `host` (`host` or `host:port`, as the URL has it).
/// `key` is a fresh random `Sec-WebSocket-Key`. A user agent that a header cannot carry
/// is left out.
pub(crate) fn request(
    path: &str,
    host: &str,
    key: &str,
    user_agent: &str,
    token: Option<&SecretString>,
) -> Result<Vec<u8>, BadRequest> {
    let mut out = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n"
    )
    .into_bytes();
    if header_safe(user_agent) {
        out.extend_from_slice(b"User-Agent: ");
        out.extend_from_slice(user_agent.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if let Some(token) = token {
        let token = token.expose_secret();
        if !header_safe(token) {
            return Err(BadRequest::Token);
        }
        out.extend_from_slice(format!("Cookie: {COOKIE_NAME}=").as_bytes());
        out.extend_from_slice(token.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    Ok(out)
}

/// Visible ASCII and spaces only: no line breaks that could end the header early.
fn header_safe(value: &str) -> bool {
    value.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
}

/// How the device answered the upgrade request.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// 101 with the right `Sec-WebSocket-Accept`: the socket now speaks WebSocket.
    Upgraded,
    /// Any other status (401 before a login, 403 for a refused origin, 404 ...).
    Status(u16),
    /// A 101 that is not a valid WebSocket upgrade, or not HTTP at all.
    Invalid(&'static str),
}

/// Checks the response head (status line and headers, without the blank line).
pub(crate) fn check_response(head: &str, key: &str) -> Answer {
    let mut lines = head.lines();
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.split_whitespace();
    let (Some(version), Some(code)) = (parts.next(), parts.next()) else {
        return Answer::Invalid("the answer is not HTTP");
    };
    let Ok(code) = code.parse::<u16>() else {
        return Answer::Invalid("the answer is not HTTP");
    };
    if !version.starts_with("HTTP/1.") {
        return Answer::Invalid("the answer is not HTTP/1.x");
    }
    if code != 101 {
        return Answer::Status(code);
    }
    let mut accept = None;
    let mut upgrade = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("sec-websocket-accept") {
            accept = Some(value);
        } else if name.eq_ignore_ascii_case("upgrade") {
            upgrade = value.eq_ignore_ascii_case("websocket");
        }
    }
    if !upgrade {
        return Answer::Invalid("the 101 answer does not upgrade to websocket");
    }
    if accept != Some(derive_accept_key(key.as_bytes()).as_str()) {
        return Answer::Invalid("the 101 answer has a wrong Sec-WebSocket-Accept");
    }
    Answer::Upgraded
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example key and accept value of RFC 6455, section 1.3.
    const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
    const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

    #[test]
    fn requests_carry_the_cookie_and_refuse_broken_tokens() {
        let token = SecretString::from("a.b.c");
        let req = request("/api/ws", "10.0.0.2:8080", KEY, "agent/1", Some(&token)).unwrap();
        let text = String::from_utf8(req).unwrap();
        assert!(text.starts_with("GET /api/ws HTTP/1.1\r\nHost: 10.0.0.2:8080\r\n"));
        assert!(text.contains(&format!("\r\nSec-WebSocket-Key: {KEY}\r\n")));
        assert!(text.contains("\r\nUser-Agent: agent/1\r\n"));
        assert!(text.ends_with("\r\nCookie: nano-kvm-token=a.b.c\r\n\r\n"));
        let injected = SecretString::from("x\r\nEvil: 1");
        assert_eq!(
            request("/api/ws", "h", KEY, "a", Some(&injected)),
            Err(BadRequest::Token)
        );
        let anonymous = request("/api/ws", "h", KEY, "bad\nagent", None).unwrap();
        let text = String::from_utf8(anonymous).unwrap();
        assert!(!text.contains("Cookie") && !text.contains("agent"));
    }

    #[test]
    fn responses_are_checked() {
        let good = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {ACCEPT}"
        );
        assert_eq!(check_response(&good, KEY), Answer::Upgraded);
        assert_eq!(
            check_response("HTTP/1.1 401 Unauthorized\r\nContent-Length: 14", KEY),
            Answer::Status(401)
        );
        let wrong = good.replace(ACCEPT, "AAAA");
        assert!(matches!(check_response(&wrong, KEY), Answer::Invalid(_)));
        let no_upgrade = good.replace("Upgrade: websocket\r\n", "");
        assert!(matches!(
            check_response(&no_upgrade, KEY),
            Answer::Invalid(_)
        ));
        assert!(matches!(check_response("SSH-2.0", KEY), Answer::Invalid(_)));
    }
}
