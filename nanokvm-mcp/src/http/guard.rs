//! The checks a request passes before MCP sees it, as pure functions of its headers:
//! `Host` and `Origin` against DNS rebinding and cross-site requests, then the bearer
//! token. Each refusal says what to fix.
//!
//! `Host` must name this server the way no rebinding attack can: `localhost`, a loopback
//! address, or the address the server is bound to (any IP address when it listens on
//! all interfaces). A rebinding attack reaches the server under the attacker's domain
//! name, so a name is what gives it away; the port is not checked. `Origin`, sent by
//! browsers, must be a loopback origin or the host the request was sent to: a web page
//! from anywhere else is refused, whatever token it has.

use std::net::IpAddr;

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Why a request was refused. The messages name no token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// No `Host` header, or one that names another server.
    Host(Option<String>),
    /// An `Origin` that is neither loopback nor this server.
    Origin(String),
    /// No `Authorization: Bearer` header.
    MissingToken,
    /// A bearer token that is none of the server's.
    WrongToken,
    /// A body over the limit (in bytes).
    TooLarge(usize),
    /// The body could not be read (the client went away).
    Unreadable,
}

impl Refusal {
    /// The HTTP status.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Self::Host(_) | Self::Origin(_) => StatusCode::FORBIDDEN,
            Self::MissingToken | Self::WrongToken => StatusCode::UNAUTHORIZED,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unreadable => StatusCode::BAD_REQUEST,
        }
    }

    /// What the client reads: what is wrong and what to fix.
    pub(crate) fn message(&self) -> String {
        match self {
            Self::Host(None) => "forbidden: the request has no Host header".to_owned(),
            Self::Host(Some(host)) => format!(
                "forbidden: Host `{host}` is not this server; send the request to localhost, \
                 127.0.0.1 or [::1] (or the address the server listens on): other names are \
                 refused against DNS rebinding"
            ),
            Self::Origin(origin) => format!(
                "forbidden: Origin `{origin}` may not call this server; only pages from \
                 localhost or this server's own address may"
            ),
            Self::MissingToken => "unauthorized: send `Authorization: Bearer <token>` with a \
                 token from the server's --tokens file or NANOKVM_MCP_TOKEN (or the one it \
                 printed at start)"
                .to_owned(),
            Self::WrongToken => "unauthorized: the bearer token is not one of this server's; \
                 check the token from the --tokens file or NANOKVM_MCP_TOKEN (a generated one \
                 changes at each start)"
                .to_owned(),
            Self::TooLarge(limit) => format!(
                "payload too large: a request body may have at most {limit} bytes ({} MiB)",
                limit / (1024 * 1024)
            ),
            Self::Unreadable => "bad request: the request body could not be read".to_owned(),
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut response = (
            self.status(),
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("{}\n", self.message()),
        )
            .into_response();
        let challenge = match self {
            Self::MissingToken => Some(r#"Bearer realm="nanokvm-mcp""#),
            Self::WrongToken => Some(r#"Bearer realm="nanokvm-mcp", error="invalid_token""#),
            _ => None,
        };
        if let Some(challenge) = challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static(challenge),
            );
        }
        response
    }
}

/// Header text fit to quote in a message or a log line: printable, and short.
fn quoted(value: &[u8]) -> String {
    let text: String = String::from_utf8_lossy(value)
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .take(100)
        .collect();
    text
}

/// A host name or address without its brackets, lowercase.
fn normalize(host: &str) -> String {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

/// Whether `host` (normalized) is `localhost` or a loopback address.
fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The host part of an authority (`host`, `host:port`, `[v6]:port`), normalized.
fn authority_host(authority: &str) -> Option<String> {
    let authority: axum::http::uri::Authority = authority.parse().ok()?;
    Some(normalize(authority.host()))
}

/// Checks `Host` and answers its host part (normalized) for the `Origin` check.
pub(crate) fn check_host(headers: &HeaderMap, bound: IpAddr) -> Result<String, Refusal> {
    let value = headers.get(header::HOST).ok_or(Refusal::Host(None))?;
    let refused = || Refusal::Host(Some(quoted(value.as_bytes())));
    let host = value
        .to_str()
        .ok()
        .and_then(authority_host)
        .ok_or_else(refused)?;
    let allowed = is_loopback(&host)
        || host
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip == bound || bound.is_unspecified());
    if allowed { Ok(host) } else { Err(refused()) }
}

/// Checks `Origin`, when there is one, against the request's (checked) host.
pub(crate) fn check_origin(headers: &HeaderMap, host: &str) -> Result<(), Refusal> {
    let Some(value) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let refused = || Refusal::Origin(quoted(value.as_bytes()));
    let uri: axum::http::Uri = value
        .to_str()
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(refused)?;
    let web = matches!(uri.scheme_str(), Some("http" | "https"));
    let origin_host = uri.host().map(normalize).ok_or_else(refused)?;
    if web && (is_loopback(&origin_host) || origin_host == host) {
        Ok(())
    } else {
        Err(refused())
    }
}

/// The bearer token of `Authorization`.
pub(crate) fn bearer(headers: &HeaderMap) -> Result<&str, Refusal> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or(Refusal::MissingToken)?;
    // Only a bearer token can be a wrong one; anything else carries no token at all.
    let text = value.to_str().map_err(|_| Refusal::MissingToken)?.trim();
    let (scheme, token) = text.split_once(' ').unwrap_or((text, ""));
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(Refusal::MissingToken);
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(name, HeaderValue::from_str(value).expect("a header value"));
        }
        map
    }

    const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
    const ALL: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    const LAN: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 168, 1, 5));

    #[test]
    fn host_must_name_this_server() {
        for (host, bound, ok) in [
            ("localhost:8765", LOOPBACK, true),
            ("LOCALHOST", LOOPBACK, true),
            ("127.0.0.1:8765", LOOPBACK, true),
            ("127.0.0.2", LOOPBACK, true),
            ("[::1]:8765", IpAddr::V6(Ipv6Addr::LOCALHOST), true),
            ("192.168.1.5:8765", LAN, true),
            ("192.168.1.5:8765", LOOPBACK, false),
            ("192.168.1.6:8765", LAN, false),
            ("10.0.0.7:8765", ALL, true),
            ("evil.example:8765", LOOPBACK, false),
            ("evil.example:8765", ALL, false),
            ("localhost.evil.example", LOOPBACK, false),
            ("127.0.0.1.nip.io", LOOPBACK, false),
            ("", LOOPBACK, false),
        ] {
            let got = check_host(&headers(&[(header::HOST, host)]), bound);
            assert_eq!(got.is_ok(), ok, "{host} bound to {bound}: {got:?}");
            if !ok {
                assert_eq!(got.expect_err(host).status(), StatusCode::FORBIDDEN);
            }
        }
        assert_eq!(
            check_host(&HeaderMap::new(), LOOPBACK),
            Err(Refusal::Host(None))
        );
    }

    #[test]
    fn origin_must_be_loopback_or_this_server() {
        for (origin, host, ok) in [
            (None, "localhost", true),
            (Some("http://localhost:6274"), "127.0.0.1", true),
            (Some("https://127.0.0.1"), "127.0.0.1", true),
            (Some("http://[::1]:3000"), "localhost", true),
            (Some("http://192.168.1.5:9000"), "192.168.1.5", true),
            (Some("http://192.168.1.5:9000"), "localhost", false),
            (Some("https://evil.example"), "localhost", false),
            (Some("http://localhost.evil.example"), "localhost", false),
            (Some("null"), "localhost", false),
            (Some("file://"), "localhost", false),
            (Some("chrome-extension://abc"), "localhost", false),
        ] {
            let map = match origin {
                Some(o) => headers(&[(header::ORIGIN, o)]),
                None => HeaderMap::new(),
            };
            let got = check_origin(&map, host);
            assert_eq!(got.is_ok(), ok, "{origin:?} to {host}: {got:?}");
        }
    }

    #[test]
    fn the_token_comes_from_a_bearer_header() {
        let token = |v: &str| bearer(&headers(&[(header::AUTHORIZATION, v)])).map(str::to_owned);
        assert_eq!(token("Bearer abc"), Ok("abc".to_owned()));
        assert_eq!(token("bearer  abc "), Ok("abc".to_owned()));
        assert_eq!(token("Basic YTpi"), Err(Refusal::MissingToken));
        assert_eq!(token("Bearer"), Err(Refusal::MissingToken));
        assert_eq!(token("Bearer  "), Err(Refusal::MissingToken));
        assert_eq!(bearer(&HeaderMap::new()), Err(Refusal::MissingToken));
    }

    #[test]
    fn refusals_say_what_to_fix() {
        let missing = Refusal::MissingToken.into_response();
        assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            missing.headers()[header::WWW_AUTHENTICATE],
            r#"Bearer realm="nanokvm-mcp""#
        );
        let wrong = Refusal::WrongToken.into_response();
        assert!(
            wrong.headers()[header::WWW_AUTHENTICATE]
                .to_str()
                .is_ok_and(|v| v.contains("invalid_token"))
        );
        assert!(Refusal::TooLarge(4 << 20).message().contains("4 MiB"));
        assert_eq!(
            Refusal::Origin(quoted(b"x\ny")).message(),
            Refusal::Origin("x?y".to_owned()).message()
        );
    }
}
