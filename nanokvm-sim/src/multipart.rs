//! A streaming `multipart/form-data` reader with the rules of Go's `mime/multipart`,
//! which the firmware's upload handler reads with.
//!
//! What the firmware's answers depend on is reproduced: which `Content-Type` values are
//! multipart at all (`mime.ParseMediaType`), which bodies make `NextPart` fail (no
//! boundary line, a line longer than the 4 KiB read buffer, a malformed header), how a
//! part's body ends (the CRLF and `--boundary` followed by `-`, white space or a line
//! end; the end of the stream before that is an unexpected EOF), and that a part's file
//! name is passed through `filepath.Base`. Part bodies are streamed, so an upload of any
//! size is never held in memory.

use std::collections::HashMap;

use axum::body::Bytes;
use futures_util::{Stream, StreamExt};

/// The largest line `NextPart` reads (Go's multipart read buffer).
const MAX_LINE: usize = 4096;
/// The largest header block of one part.
const MAX_HEADERS: usize = 64 * 1024;

/// Go's `isTSpecial`.
fn is_tspecial(c: char) -> bool {
    "()<>@,;:\\\"/[]?=".contains(c)
}

/// Go's `isTokenChar`.
fn is_token_char(c: char) -> bool {
    c > ' ' && c < '\u{7f}' && !is_tspecial(c)
}

fn consume_token(v: &str) -> (&str, &str) {
    let end = v.find(|c: char| !is_token_char(c)).unwrap_or(v.len());
    v.split_at(end)
}

/// Go's `consumeValue`: a token or a quoted string; `None` when neither.
fn consume_value(v: &str) -> Option<(String, &str)> {
    let Some(quoted) = v.strip_prefix('"') else {
        let (token, rest) = consume_token(v);
        return (!token.is_empty()).then(|| (token.to_owned(), rest));
    };
    let mut out = String::new();
    let mut chars = quoted.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &quoted[i + 1..])),
            '\\' => {
                let next = quoted[i + 1..].chars().next();
                match next {
                    Some(n) if is_tspecial(n) => {
                        out.push(n);
                        chars.next();
                    }
                    _ => out.push(c),
                }
            }
            '\r' | '\n' => return None,
            c => out.push(c),
        }
    }
    None
}

/// Go's `mime.ParseMediaType`: the lower-cased type and its parameters. The parameters
/// are `None` when they are malformed (Go then returns the type with an error).
pub(crate) fn parse_media_type(v: &str) -> Option<(String, Option<HashMap<String, String>>)> {
    let base = v.split(';').next().unwrap_or("");
    let media = base.trim().to_ascii_lowercase();
    let (first, rest) = consume_token(&media);
    if first.is_empty() {
        return None;
    }
    if let Some(sub) = rest.strip_prefix('/') {
        let (sub, rest) = consume_token(sub);
        if sub.is_empty() || !rest.is_empty() {
            return None;
        }
    } else if !rest.is_empty() {
        return None;
    }
    let mut params = HashMap::new();
    let mut v = &v[base.len()..];
    loop {
        v = v.trim_start();
        if v.is_empty() {
            break;
        }
        let Some((key, value, rest)) = consume_param(v) else {
            if v.trim() == ";" {
                break;
            }
            return Some((media, None));
        };
        if params.insert(key, value).is_some() {
            return Some((media, None));
        }
        v = rest;
    }
    Some((media, Some(params)))
}

/// Go's `consumeMediaParam`: `; key=value`.
fn consume_param(v: &str) -> Option<(String, String, &str)> {
    let rest = v.trim_start().strip_prefix(';')?.trim_start();
    let (key, rest) = consume_token(rest);
    if key.is_empty() {
        return None;
    }
    let rest = rest.trim_start().strip_prefix('=')?.trim_start();
    let (value, rest) = consume_value(rest)?;
    // RFC 2231 extended values (`filename*=`) are not decoded; browsers do not send them
    // for ASCII names.
    Some((key.to_ascii_lowercase(), value, rest))
}

/// The boundary of a `multipart/form-data` content type, as `Request.MultipartReader`
/// accepts it.
pub(crate) fn form_data_boundary(content_type: &str) -> Option<String> {
    let (media, params) = parse_media_type(content_type)?;
    if media != "multipart/form-data" {
        return None;
    }
    params?.remove("boundary").filter(|b| !b.is_empty())
}

/// Go's `filepath.Base` on a Unix path.
pub(crate) fn base_name(path: &str) -> String {
    if path.is_empty() {
        return ".".to_owned();
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/".to_owned();
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed).to_owned()
}

/// The headers of one part that the upload handler uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PartHead {
    /// The `name` parameter when the disposition is `form-data`, else empty.
    pub form_name: String,
    /// The `filename` parameter through `filepath.Base`, or empty.
    pub file_name: String,
}

impl PartHead {
    fn from_disposition(value: Option<&str>) -> Self {
        let parsed = value.and_then(parse_media_type);
        let (disposition, params) = match parsed {
            Some((d, Some(p))) => (d, p),
            Some((d, None)) => (d, HashMap::new()),
            None => (String::new(), HashMap::new()),
        };
        let form_name = if disposition == "form-data" {
            params.get("name").cloned().unwrap_or_default()
        } else {
            String::new()
        };
        let file_name = match params.get("filename") {
            Some(f) if !f.is_empty() => base_name(f),
            _ => String::new(),
        };
        Self {
            form_name,
            file_name,
        }
    }
}

/// Why reading the multipart body failed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Broken {
    /// `NextPart` failed: the structure is not multipart.
    Structure,
    /// A part's body ended without its boundary, or the connection failed.
    Body,
}

/// How the bytes at the front of the buffer relate to the boundary.
#[derive(Debug, PartialEq, Eq)]
enum Scan {
    /// This many bytes are body data; more may follow (0: more input is needed).
    Data(usize),
    /// This many bytes are body data, and then the part ends.
    End(usize),
    /// This many bytes are body data, and then the input ended without a boundary.
    Truncated(usize),
}

/// Go's `matchAfterPrefix`: +1 a boundary, -1 not one, 0 undecided.
fn match_after_prefix(buf: &[u8], prefix: &[u8], at_eof: bool) -> i8 {
    if buf.len() == prefix.len() {
        return if at_eof { 1 } else { 0 };
    }
    let c = buf[prefix.len()];
    if matches!(c, b' ' | b'\t' | b'\r' | b'\n') {
        return 1;
    }
    if c == b'-' {
        if buf.len() == prefix.len() + 1 {
            return if at_eof { -1 } else { 0 };
        }
        if buf[prefix.len() + 1] == b'-' {
            return 1;
        }
    }
    -1
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    // Only the needle's first byte is searched for, so a part body is scanned once.
    let first = *needle.first()?;
    let mut from = 0;
    while let Some(i) = haystack[from..].iter().position(|&b| b == first) {
        let at = from + i;
        if haystack[at..].starts_with(needle) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Go's `scanUntilBoundary`.
fn scan(buf: &[u8], dash: &[u8], nl_dash: &[u8], total: u64, at_eof: bool) -> Scan {
    let more = |n: usize| {
        if at_eof {
            Scan::Truncated(n)
        } else {
            Scan::Data(n)
        }
    };
    if total == 0 {
        if buf.starts_with(dash) {
            match match_after_prefix(buf, dash, at_eof) {
                -1 => return Scan::Data(dash.len()),
                0 => return Scan::Data(0),
                _ => return Scan::End(0),
            }
        }
        if dash.starts_with(buf) {
            return more(0);
        }
    }
    if let Some(i) = find(buf, nl_dash) {
        match match_after_prefix(&buf[i..], nl_dash, at_eof) {
            -1 => return Scan::Data(i + nl_dash.len()),
            0 => return Scan::Data(i),
            _ => return Scan::End(i),
        }
    }
    if nl_dash.starts_with(buf) {
        return more(0);
    }
    if let Some(i) = buf.iter().rposition(|&b| b == nl_dash[0])
        && nl_dash.starts_with(&buf[i..])
    {
        return Scan::Data(i);
    }
    more(buf.len())
}

/// A multipart body being read part by part.
pub(crate) struct Reader<S> {
    stream: S,
    buf: Vec<u8>,
    at_eof: bool,
    dash: Vec<u8>,
    nl_dash: Vec<u8>,
    parts_read: usize,
    /// Whether a part's body is being read, and how much of it so far.
    in_part: Option<u64>,
}

impl<S, E> Reader<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    pub(crate) fn new(stream: S, boundary: &str) -> Self {
        let dash = format!("--{boundary}").into_bytes();
        let mut nl_dash = b"\r\n".to_vec();
        nl_dash.extend_from_slice(&dash);
        Self {
            stream,
            buf: Vec::new(),
            at_eof: false,
            dash,
            nl_dash,
            parts_read: 0,
            in_part: None,
        }
    }

    /// Reads more input; `false` at the end.
    async fn fill(&mut self) -> Result<bool, Broken> {
        if self.at_eof {
            return Ok(false);
        }
        loop {
            match self.stream.next().await {
                Some(Ok(bytes)) if bytes.is_empty() => {}
                Some(Ok(bytes)) => {
                    self.buf.extend_from_slice(&bytes);
                    return Ok(true);
                }
                Some(Err(_)) => return Err(Broken::Body),
                None => {
                    self.at_eof = true;
                    return Ok(false);
                }
            }
        }
    }

    /// One line including its `\n`, or what is left at the end of the input.
    async fn line(&mut self) -> Result<(Vec<u8>, bool), Broken> {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                if i >= MAX_LINE {
                    return Err(Broken::Structure);
                }
                return Ok((self.buf.drain(..=i).collect(), true));
            }
            if self.buf.len() >= MAX_LINE {
                return Err(Broken::Structure);
            }
            if !self.fill().await? {
                return Ok((std::mem::take(&mut self.buf), false));
            }
        }
    }

    /// Go's `isBoundaryDelimiterLine`: `--boundary`, optional spaces, CRLF.
    fn is_delimiter(&self, line: &[u8]) -> bool {
        line.strip_prefix(self.dash.as_slice())
            .is_some_and(|rest| skip_lws(rest) == b"\r\n")
    }

    /// Go's `isFinalBoundary`: `--boundary--`, then nothing, or spaces and CRLF.
    fn is_final(&self, line: &[u8]) -> bool {
        line.strip_prefix(self.dash.as_slice())
            .and_then(|rest| rest.strip_prefix(b"--"))
            .is_some_and(|rest| {
                let rest = skip_lws(rest);
                rest.is_empty() || rest == b"\r\n"
            })
    }

    /// The next part's head, or `None` after the closing boundary. An unread rest of
    /// the current part is skipped.
    pub(crate) async fn next_part(&mut self) -> Result<Option<PartHead>, Broken> {
        if self.in_part.is_some() {
            // Go's `Part.Close` drains the part and ignores what went wrong.
            while let Ok(Some(_)) = self.read().await {}
            self.in_part = None;
        }
        let mut expect_new_part = false;
        loop {
            let (line, complete) = self.line().await?;
            if !complete {
                if self.is_final(&line) {
                    return Ok(None);
                }
                return Err(Broken::Structure);
            }
            if self.is_delimiter(&line) {
                self.parts_read += 1;
                let head = self.headers().await?;
                self.in_part = Some(0);
                return Ok(Some(head));
            }
            if self.is_final(&line) {
                return Ok(None);
            }
            if expect_new_part {
                return Err(Broken::Structure);
            }
            if self.parts_read == 0 {
                continue;
            }
            if line == b"\r\n" {
                expect_new_part = true;
                continue;
            }
            return Err(Broken::Structure);
        }
    }

    /// The part's MIME header, up to the blank line.
    async fn headers(&mut self) -> Result<PartHead, Broken> {
        let mut fields: Vec<(String, String)> = Vec::new();
        let mut size = 0;
        loop {
            let (line, complete) = self.line().await?;
            if !complete {
                return Err(Broken::Structure);
            }
            size += line.len();
            if size > MAX_HEADERS {
                return Err(Broken::Structure);
            }
            let text = String::from_utf8_lossy(&line);
            let text = text.trim_end_matches(['\r', '\n']);
            if text.is_empty() {
                break;
            }
            if text.starts_with([' ', '\t']) {
                // A continuation of the previous field.
                let Some(last) = fields.last_mut() else {
                    return Err(Broken::Structure);
                };
                last.1.push(' ');
                last.1.push_str(text.trim());
                continue;
            }
            let Some((name, value)) = text.split_once(':') else {
                return Err(Broken::Structure);
            };
            if name.is_empty() || !name.chars().all(is_token_char) {
                return Err(Broken::Structure);
            }
            fields.push((name.to_ascii_lowercase(), value.trim().to_owned()));
        }
        let disposition = fields
            .iter()
            .find(|(k, _)| k == "content-disposition")
            .map(|(_, v)| v.as_str());
        Ok(PartHead::from_disposition(disposition))
    }

    /// The next piece of the current part's body; `None` at its end.
    pub(crate) async fn read(&mut self) -> Result<Option<Bytes>, Broken> {
        let Some(total) = self.in_part else {
            return Ok(None);
        };
        loop {
            match scan(&self.buf, &self.dash, &self.nl_dash, total, self.at_eof) {
                // At the end of the input the next scan reports it.
                Scan::Data(0) => {
                    self.fill().await?;
                }
                Scan::Data(n) => return Ok(Some(self.take(n, total))),
                Scan::End(0) => {
                    self.in_part = None;
                    return Ok(None);
                }
                Scan::End(n) => {
                    let piece = self.take(n, total);
                    // The boundary stays in the buffer for `next_part`; the part is over.
                    self.in_part = None;
                    return Ok(Some(piece));
                }
                Scan::Truncated(0) => return Err(Broken::Body),
                Scan::Truncated(n) => return Ok(Some(self.take(n, total))),
            }
        }
    }

    fn take(&mut self, n: usize, total: u64) -> Bytes {
        self.in_part = Some(total + n as u64);
        Bytes::from(self.buf.drain(..n).collect::<Vec<u8>>())
    }
}

/// Leading spaces and tabs removed (Go's `skipLWSPChar`).
fn skip_lws(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|&c| c != b' ' && c != b'\t')
        .unwrap_or(b.len());
    &b[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    type Chunks = futures_util::stream::Iter<std::vec::IntoIter<Result<Bytes, ()>>>;

    fn stream(body: &[u8], split: usize) -> Chunks {
        let mut chunks = Vec::new();
        for piece in body.chunks(split.max(1)) {
            chunks.push(Ok(Bytes::copy_from_slice(piece)));
        }
        futures_util::stream::iter(chunks)
    }

    /// Every part as (form name, file name, body), or the first error.
    fn read_all(body: &[u8], split: usize) -> Result<Vec<(String, String, Vec<u8>)>, Broken> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut r = Reader::new(stream(body, split), "XyZ");
            let mut parts = Vec::new();
            while let Some(head) = r.next_part().await? {
                let mut data = Vec::new();
                while let Some(piece) = r.read().await? {
                    data.extend_from_slice(&piece);
                }
                parts.push((head.form_name, head.file_name, data));
            }
            Ok(parts)
        })
    }

    const BODY: &[u8] = b"preamble\r\n--XyZ\r\n\
Content-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n--XyZ\r\n\
Content-Disposition: form-data; name=\"file\"; filename=\"../dir/a.iso\"\r\n\
Content-Type: application/octet-stream\r\n\r\n\
body\r\n--XyZnot-a-boundary\r\n--XyZ--\r\n";

    #[test]
    fn parts_are_the_same_however_the_body_is_split() {
        for split in [1, 2, 3, 7, 16, 1000] {
            let parts = read_all(BODY, split).unwrap();
            assert_eq!(parts.len(), 2, "split {split}");
            assert_eq!(parts[0], ("note".into(), String::new(), b"hello".to_vec()));
            assert_eq!(parts[1].0, "file");
            // Go passes the name through filepath.Base.
            assert_eq!(parts[1].1, "a.iso");
            assert_eq!(parts[1].2, b"body\r\n--XyZnot-a-boundary");
        }
    }

    #[test]
    fn broken_bodies_fail_where_go_fails() {
        assert_eq!(read_all(b"", 10), Err(Broken::Structure));
        assert_eq!(read_all(b"--XyZ--", 10), Ok(Vec::new()));
        let no_end = b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc";
        assert_eq!(read_all(no_end, 3), Err(Broken::Body));
        let bad_header = b"--XyZ\r\nno colon here\r\n\r\nabc\r\n--XyZ--\r\n";
        assert_eq!(read_all(bad_header, 5), Err(Broken::Structure));
        let long = [b"x".repeat(5000).as_slice(), b"\r\n--XyZ--\r\n"].concat();
        assert_eq!(read_all(&long, 100), Err(Broken::Structure));
    }

    #[test]
    fn content_types_and_dispositions_parse_like_go() {
        assert_eq!(
            form_data_boundary("multipart/form-data; boundary=\"a b\"").as_deref(),
            Some("a b")
        );
        assert_eq!(
            form_data_boundary("Multipart/Form-Data;boundary=x;").as_deref(),
            Some("x")
        );
        assert_eq!(form_data_boundary("multipart/mixed; boundary=x"), None);
        assert_eq!(form_data_boundary("multipart/form-data"), None);
        assert_eq!(form_data_boundary("application/json"), None);
        assert_eq!(
            form_data_boundary("multipart/form-data; boundary=x; boundary=y"),
            None
        );
        let h = PartHead::from_disposition(Some("form-data; name=file; filename=\"C:\\\\x.iso\""));
        assert_eq!(
            (h.form_name.as_str(), h.file_name.as_str()),
            ("file", "C:\\x.iso")
        );
        let h = PartHead::from_disposition(Some("attachment; name=file; filename=a.iso"));
        assert_eq!((h.form_name.as_str(), h.file_name.as_str()), ("", "a.iso"));
        let h = PartHead::from_disposition(Some("form-data; name=file; filename=\"/\""));
        assert_eq!(h.file_name, "/");
    }

    #[test]
    fn base_name_is_go_filepath_base() {
        assert_eq!(base_name("a/b.iso"), "b.iso");
        assert_eq!(base_name("/abs/x.iso/"), "x.iso");
        assert_eq!(base_name(".."), "..");
        assert_eq!(base_name(""), ".");
    }
}
