//! The few outbound HTTP requests the firmware makes itself: fetching an image from a URL
//! and asking the update server for the latest version.
//!
//! The firmware uses Go's `net/url` and `net/http`; what a caller can observe of them is
//! which URLs are refused before anything is sent (`url.Parse` and the handlers' own
//! checks), that redirects are followed (at most ten), and the response's status and
//! `Content-Length`. This module reproduces that much with a small HTTP/1.1 client over a
//! tokio `TcpStream`, so the simulator needs no HTTP client crate. It speaks plain HTTP
//! only: an `https` URL fails as an unreachable server would.
//!
//! URL parsing ([`parse`]), path escaping and response framing are pure functions with
//! unit tests; only [`request`] and [`Response::chunk`] touch the network.

use std::io;

use axum::body::Bytes;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// A URL as Go's `url.Parse` splits it, for the parts the simulator uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Url {
    /// Lower-cased, as Go stores it.
    pub scheme: String,
    /// The authority's host, with its port if one was given (`example.com:8080`).
    pub host: String,
    /// The user information before `@`, as written.
    user: Option<String>,
    /// The path, percent-decoded (Go's `URL.Path`); may contain any byte.
    pub path: Vec<u8>,
    /// The path as written, before decoding.
    raw_path: String,
    /// The query as written, without the `?`.
    pub raw_query: Option<String>,
}

/// `url.Parse` refused the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BadUrl;

fn is_hex(b: u8) -> bool {
    b.is_ascii_hexdigit()
}

fn unhex(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        b'A'..=b'F' => b - b'A' + 10,
        _ => 0,
    }
}

/// Where a string sits in a URL, for Go's escaping rules.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Host,
    Path,
    User,
    Fragment,
}

/// Go's `shouldEscape` for the parts used here.
fn should_escape(c: u8, part: Part) -> bool {
    if c.is_ascii_alphanumeric() {
        return false;
    }
    if part == Part::Host
        && matches!(
            c,
            b'!' | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'['
                | b']'
                | b'<'
                | b'>'
                | b'"'
        )
    {
        return false;
    }
    match c {
        b'-' | b'_' | b'.' | b'~' => false,
        b'$' | b'&' | b'+' | b',' | b'/' | b':' | b';' | b'=' | b'?' | b'@' => match part {
            Part::Path => c == b'?',
            Part::User => matches!(c, b'@' | b'/' | b'?' | b':'),
            Part::Fragment => false,
            Part::Host => true,
        },
        b'!' | b'(' | b')' | b'*' if part == Part::Fragment => false,
        _ => true,
    }
}

/// Go's `unescape`: `%XX` sequences become bytes; a malformed one fails, and so does a
/// host character that would need escaping or an escaped ASCII byte in a host.
fn unescape(s: &str, part: Part) -> Result<Vec<u8>, BadUrl> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                if i + 2 >= b.len() || !is_hex(b[i + 1]) || !is_hex(b[i + 2]) {
                    return Err(BadUrl);
                }
                if part == Part::Host && unhex(b[i + 1]) < 8 && &s[i..i + 3] != "%25" {
                    return Err(BadUrl);
                }
                out.push(unhex(b[i + 1]) << 4 | unhex(b[i + 2]));
                i += 3;
            }
            c => {
                if part == Part::Host && c < 0x80 && should_escape(c, part) {
                    return Err(BadUrl);
                }
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// Go's `getScheme`: the scheme and the rest, or no scheme when the text does not start
/// with one.
fn split_scheme(raw: &str) -> Result<(&str, &str), BadUrl> {
    for (i, c) in raw.bytes().enumerate() {
        match c {
            b'a'..=b'z' | b'A'..=b'Z' => {}
            b'0'..=b'9' | b'+' | b'-' | b'.' if i > 0 => {}
            b':' if i == 0 => return Err(BadUrl),
            b':' => return Ok((&raw[..i], &raw[i + 1..])),
            _ => return Ok(("", raw)),
        }
    }
    Ok(("", raw))
}

/// `:` followed by digits, or nothing.
fn valid_optional_port(port: &str) -> bool {
    port.is_empty()
        || port
            .strip_prefix(':')
            .is_some_and(|digits| digits.bytes().all(|b| b.is_ascii_digit()))
}

fn parse_host(host: &str) -> Result<String, BadUrl> {
    if host.starts_with('[') {
        let close = host.rfind(']').ok_or(BadUrl)?;
        if !valid_optional_port(&host[close + 1..]) {
            return Err(BadUrl);
        }
    } else if let Some(colon) = host.rfind(':')
        && !valid_optional_port(&host[colon..])
    {
        return Err(BadUrl);
    }
    let bytes = unescape(host, Part::Host)?;
    String::from_utf8(bytes).map_err(|_| BadUrl)
}

fn valid_userinfo(s: &str) -> bool {
    s.bytes().all(|c| {
        c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'-' | b'.'
                    | b'_'
                    | b':'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b'%'
                    | b'@'
            )
    })
}

/// Go's `url.Parse` for the URLs the firmware accepts: a scheme, an authority and a
/// path. Opaque and relative forms parse (with an empty host) so that the callers can
/// refuse them with their own message.
pub(crate) fn parse(raw: &str) -> Result<Url, BadUrl> {
    let (rest, fragment) = raw.split_once('#').unwrap_or((raw, ""));
    if rest.bytes().any(|b| b < 0x20 || b == 0x7F) {
        return Err(BadUrl);
    }
    let (scheme, rest) = split_scheme(rest)?;
    let scheme = scheme.to_ascii_lowercase();
    let (rest, raw_query) = if rest.ends_with('?') && rest.matches('?').count() == 1 {
        (&rest[..rest.len() - 1], Some(String::new()))
    } else {
        match rest.split_once('?') {
            Some((r, q)) => (r, Some(q.to_owned())),
            None => (rest, None),
        }
    };
    let mut host = String::new();
    let mut user = None;
    let mut path_text = rest;
    if !rest.starts_with('/') && !scheme.is_empty() {
        // Go calls this an opaque URL: it has no host.
        path_text = "";
    } else if rest.starts_with("//") && (!scheme.is_empty() || !rest.starts_with("///")) {
        let authority_and_path = &rest[2..];
        let (authority, path) = match authority_and_path.find('/') {
            Some(i) => authority_and_path.split_at(i),
            None => (authority_and_path, ""),
        };
        let host_text = match authority.rfind('@') {
            Some(at) => {
                let info = &authority[..at];
                if !valid_userinfo(info) {
                    return Err(BadUrl);
                }
                unescape(info, Part::User)?;
                user = Some(info.to_owned());
                &authority[at + 1..]
            }
            None => authority,
        };
        host = parse_host(host_text)?;
        path_text = path;
    }
    let path = unescape(path_text, Part::Path)?;
    unescape(fragment, Part::Fragment)?;
    Ok(Url {
        scheme,
        host,
        user,
        path,
        raw_path: path_text.to_owned(),
        raw_query,
    })
}

/// Go's `filepath.Base` on a decoded URL path: the last element, `.` for an empty path,
/// `/` for a path of slashes.
pub(crate) fn base_name(path: &[u8]) -> Vec<u8> {
    if path.is_empty() {
        return b".".to_vec();
    }
    let trimmed = match path.iter().rposition(|&b| b != b'/') {
        Some(last) => &path[..=last],
        None => return b"/".to_vec(),
    };
    match trimmed.iter().rposition(|&b| b == b'/') {
        Some(slash) => trimmed[slash + 1..].to_vec(),
        None => trimmed.to_vec(),
    }
}

/// Go's `escape(path, encodePath)`.
pub(crate) fn escape_path(path: &[u8]) -> String {
    let mut escaped = String::new();
    for &c in path {
        if should_escape(c, Part::Path) {
            escaped.push_str(&format!("%{c:02X}"));
        } else {
            escaped.push(char::from(c));
        }
    }
    escaped
}

impl Url {
    /// The authority as written: user information, host and port.
    pub(crate) fn authority(&self) -> String {
        match &self.user {
            Some(u) => format!("{u}@{}", self.host),
            None => self.host.clone(),
        }
    }

    /// The host name to connect to, without port or IPv6 brackets.
    fn hostname(&self) -> &str {
        let h = &self.host;
        if let Some(rest) = h.strip_prefix('[') {
            return rest.split(']').next().unwrap_or("");
        }
        match h.rfind(':') {
            Some(i) => &h[..i],
            None => h,
        }
    }

    fn port(&self) -> u16 {
        let after_bracket = self.host.rfind(']').map_or(0, |i| i + 1);
        let tail = &self.host[after_bracket..];
        match tail.rfind(':').map(|i| &tail[i + 1..]) {
            Some(p) if !p.is_empty() => p.parse().unwrap_or(0),
            _ => {
                if self.scheme == "https" {
                    443
                } else {
                    80
                }
            }
        }
    }

    /// The request target: the path as Go's `EscapedPath` gives it, and the query.
    pub(crate) fn request_target(&self) -> String {
        let valid_raw = self.raw_path.bytes().all(|c| {
            matches!(
                c,
                b'!' | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b':'
                    | b'@'
                    | b'['
                    | b']'
                    | b'%'
            ) || !should_escape(c, Part::Path)
        });
        let mut target = if valid_raw {
            self.raw_path.clone()
        } else {
            escape_path(&self.path)
        };
        if target.is_empty() {
            target.push('/');
        }
        if let Some(q) = &self.raw_query {
            target.push('?');
            target.push_str(q);
        }
        target
    }

    /// A `Location` header resolved against this URL.
    fn resolve(&self, location: &str) -> Result<Url, BadUrl> {
        let next = parse(location)?;
        if !next.scheme.is_empty() {
            return Ok(next);
        }
        if location.starts_with("//") {
            return parse(&format!("{}:{location}", self.scheme));
        }
        let path = if location.starts_with('/') {
            location.to_owned()
        } else {
            let dir = match self.raw_path.rfind('/') {
                Some(i) => &self.raw_path[..=i],
                None => "/",
            };
            format!("{dir}{location}")
        };
        parse(&format!("{}://{}{path}", self.scheme, self.host))
    }
}

/// How a response body ends.
#[derive(Debug, PartialEq, Eq)]
enum Framing {
    /// No body (HEAD, 204, 304).
    Empty,
    /// `Content-Length` bytes remain.
    Length(u64),
    /// Chunked; `remaining` bytes of the current chunk, and whether the last one was read.
    Chunked { remaining: u64, done: bool },
    /// Everything until the server closes.
    Close,
}

/// The status and headers of a response, parsed.
#[derive(Debug, PartialEq, Eq)]
struct Head {
    status: u16,
    content_length: Option<u64>,
    chunked: bool,
    location: Option<String>,
}

/// Parses a response head (status line and headers, without the blank line).
fn parse_head(text: &str) -> Option<Head> {
    let mut lines = text.split("\r\n");
    let status_line = lines.next()?;
    let mut parts = status_line.splitn(3, ' ');
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    let status: u16 = parts.next()?.parse().ok()?;
    let mut head = Head {
        status,
        content_length: None,
        chunked: false,
        location: None,
    };
    for line in lines {
        let (name, value) = line.split_once(':')?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            head.content_length = Some(value.parse().ok()?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            head.chunked = value.to_ascii_lowercase().contains("chunked");
        } else if name.eq_ignore_ascii_case("location") {
            head.location = Some(value.to_owned());
        }
    }
    Some(head)
}

/// The largest response head read; a longer one fails the request.
const MAX_HEAD: usize = 1 << 20;

/// A response whose body is read on demand.
pub(crate) struct Response {
    /// The status code.
    pub status: u16,
    /// `Content-Length` as Go's `Response.ContentLength` has it: -1 when unknown.
    pub content_length: i64,
    location: Option<String>,
    framing: Framing,
    stream: BufReader<TcpStream>,
}

impl Response {
    /// The next piece of the body, `None` at its end.
    pub(crate) async fn chunk(&mut self) -> io::Result<Option<Bytes>> {
        let mut buf = vec![0u8; 64 * 1024];
        match &mut self.framing {
            Framing::Empty => Ok(None),
            Framing::Length(0) => Ok(None),
            Framing::Length(remaining) => {
                let want = usize::try_from((*remaining).min(buf.len() as u64)).unwrap_or(0);
                let n = self.stream.read(&mut buf[..want]).await?;
                if n == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                *remaining -= n as u64;
                buf.truncate(n);
                Ok(Some(Bytes::from(buf)))
            }
            Framing::Close => {
                let n = self.stream.read(&mut buf).await?;
                if n == 0 {
                    return Ok(None);
                }
                buf.truncate(n);
                Ok(Some(Bytes::from(buf)))
            }
            Framing::Chunked { remaining, done } => {
                if *done {
                    return Ok(None);
                }
                if *remaining == 0 {
                    let size = read_chunk_size(&mut self.stream).await?;
                    if size == 0 {
                        // Trailers, up to the blank line.
                        loop {
                            let line = read_line(&mut self.stream).await?;
                            if line.is_empty() {
                                break;
                            }
                        }
                        *done = true;
                        return Ok(None);
                    }
                    *remaining = size;
                }
                let want = usize::try_from((*remaining).min(buf.len() as u64)).unwrap_or(0);
                let n = self.stream.read(&mut buf[..want]).await?;
                if n == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                *remaining -= n as u64;
                if *remaining == 0 && !read_line(&mut self.stream).await?.is_empty() {
                    return Err(io::ErrorKind::InvalidData.into());
                }
                buf.truncate(n);
                Ok(Some(Bytes::from(buf)))
            }
        }
    }
}

/// One line without its CRLF; fails at end of stream or past 4 KiB.
async fn read_line(stream: &mut BufReader<TcpStream>) -> io::Result<String> {
    let mut line = Vec::new();
    let n = (&mut *stream)
        .take(4096)
        .read_until(b'\n', &mut line)
        .await?;
    if n == 0 || !line.ends_with(b"\n") {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    line.pop();
    if line.ends_with(b"\r") {
        line.pop();
    }
    String::from_utf8(line).map_err(|_| io::ErrorKind::InvalidData.into())
}

async fn read_chunk_size(stream: &mut BufReader<TcpStream>) -> io::Result<u64> {
    let line = read_line(stream).await?;
    let size = line.split(';').next().unwrap_or("").trim();
    u64::from_str_radix(size, 16).map_err(|_| io::ErrorKind::InvalidData.into())
}

/// The method of an outbound request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Head,
}

/// One request, without following redirects.
async fn send(method: Method, url: &Url) -> io::Result<Response> {
    if url.scheme != "http" {
        // TLS is not simulated; an https server is as unreachable as a missing one.
        return Err(io::ErrorKind::Unsupported.into());
    }
    let host = match url.hostname() {
        "" => "127.0.0.1",
        h => h,
    };
    let tcp = TcpStream::connect((host, url.port())).await?;
    let mut stream = BufReader::new(tcp);
    let verb = match method {
        Method::Get => "GET",
        Method::Head => "HEAD",
    };
    let request = format!(
        "{verb} {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: Go-http-client/1.1\r\nConnection: close\r\n\r\n",
        url.request_target(),
        url.host
    );
    stream.get_mut().write_all(request.as_bytes()).await?;
    let mut head = Vec::new();
    loop {
        let n = (&mut stream)
            .take(8192)
            .read_until(b'\n', &mut head)
            .await?;
        if n == 0 || head.len() > MAX_HEAD {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        if head.ends_with(b"\r\n\r\n") || head.ends_with(b"\n\n") {
            break;
        }
    }
    let text = String::from_utf8_lossy(&head);
    let head = parse_head(text.trim_end_matches(['\r', '\n']).trim_end())
        .ok_or(io::ErrorKind::InvalidData)?;
    let no_body =
        method == Method::Head || head.status == 204 || head.status == 304 || head.status < 200;
    let (framing, content_length) = if no_body {
        (
            Framing::Empty,
            head.content_length
                .map_or(-1, |n| i64::try_from(n).unwrap_or(-1)),
        )
    } else if head.chunked {
        (
            Framing::Chunked {
                remaining: 0,
                done: false,
            },
            -1,
        )
    } else if let Some(n) = head.content_length {
        (Framing::Length(n), i64::try_from(n).unwrap_or(-1))
    } else {
        (Framing::Close, -1)
    };
    Ok(Response {
        status: head.status,
        content_length,
        location: head.location,
        framing,
        stream,
    })
}

/// Go's `http.Get` / `http.Head`: the request, following up to ten redirects.
pub(crate) async fn request(method: Method, url: &Url) -> io::Result<Response> {
    let mut url = url.clone();
    for _ in 0..=10 {
        let response = send(method, &url).await?;
        let redirect = matches!(response.status, 301 | 302 | 303 | 307 | 308);
        match (&response.location, redirect) {
            // A redirect without a Location is returned as it is, as Go does.
            (Some(location), true) => {
                url = url
                    .resolve(location)
                    .map_err(|_| io::Error::from(io::ErrorKind::InvalidData))?;
            }
            _ => return Ok(response),
        }
    }
    Err(io::Error::other("stopped after 10 redirects"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> Url {
        parse(raw).unwrap_or_else(|_| panic!("{raw:?} should parse"))
    }

    #[test]
    fn parses_like_go_url_parse() {
        let u = ok("HTTP://user:pw@example.com:8080/a%20b/c.iso?x=1#frag");
        assert_eq!(u.scheme, "http");
        assert_eq!(u.host, "example.com:8080");
        assert_eq!(u.path, b"/a b/c.iso");
        assert_eq!(u.raw_query.as_deref(), Some("x=1"));
        assert_eq!((u.hostname(), u.port()), ("example.com", 8080));
        assert_eq!(u.request_target(), "/a%20b/c.iso?x=1");
        let u = ok("http://[::1]:81/x");
        assert_eq!((u.hostname(), u.port()), ("::1", 81));
        assert_eq!(ok("https://h/x").port(), 443);
        // No scheme, an opaque URL, no path: parsed, with what is missing left empty.
        assert_eq!(ok("example.com/x.iso").host, "");
        assert_eq!(ok("http:x.iso").host, "");
        assert_eq!(ok("http://h").path, b"");
        assert_eq!(ok("ftp://h/x").scheme, "ftp");
    }

    #[test]
    fn refuses_what_go_refuses() {
        for bad in [
            "http://h/\u{0}x",
            "http://h/x\ny",
            "http://h/%zz",
            "http://h/%4",
            "http://h:port/x",
            "http://a b/x",
            "http://h%41/x",
            "http://[::1/x",
            ":no-scheme",
            "http://us er@h/x",
            "http://h/x#%zz",
        ] {
            assert_eq!(parse(bad), Err(BadUrl), "{bad:?}");
        }
    }

    #[test]
    fn base_name_matches_go_filepath_base() {
        assert_eq!(base_name(b"/a/b.iso"), b"b.iso");
        assert_eq!(base_name(b"/a/b/"), b"b");
        assert_eq!(base_name(b"/"), b"/");
        assert_eq!(base_name(b""), b".");
        assert_eq!(base_name(b"/.."), b"..");
    }

    #[test]
    fn relative_locations_resolve_against_the_request() {
        let base = ok("http://h:1/dir/file.iso");
        assert_eq!(base.resolve("/other").unwrap().request_target(), "/other");
        assert_eq!(
            base.resolve("next.iso").unwrap().request_target(),
            "/dir/next.iso"
        );
        assert_eq!(base.resolve("//g:2/x").unwrap().host, "g:2");
        assert_eq!(base.resolve("http://k/y").unwrap().host, "k");
    }

    #[test]
    fn response_heads_give_status_length_and_framing() {
        let h = parse_head("HTTP/1.1 200 OK\r\nContent-Length: 12\r\nX: y").unwrap();
        assert_eq!(
            (h.status, h.content_length, h.chunked),
            (200, Some(12), false)
        );
        let h =
            parse_head("HTTP/1.1 302 Found\r\nLocation: /x\r\nTransfer-Encoding: chunked").unwrap();
        assert_eq!(
            (h.status, h.location.as_deref(), h.chunked),
            (302, Some("/x"), true)
        );
        assert_eq!(parse_head("SSH-2.0-OpenSSH"), None);
        assert_eq!(parse_head("HTTP/1.1 200 OK\r\nContent-Length: x"), None);
    }
}
