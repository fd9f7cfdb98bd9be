//! Screenshots from the MJPEG stream (`GET /api/stream/mjpeg`).
//!
//! The firmware ignores query parameters, so there is no single-frame request: the
//! client reads the first multipart part by its `Content-Length` (never by scanning for
//! JPEG markers, which a thumbnail inside the JPEG would fool) and hangs up. The firmware
//! sends nothing, not even headers, until it has a frame: without an HDMI signal, or with
//! frame detection on and a static screen, nothing arrives, so every read has a timeout.

use std::time::Duration;

use crate::client::Client;
use crate::error::{Error, Result};

const ENDPOINT: &str = "GET /api/stream/mjpeg";

/// The most a single part may claim to be, to bound memory use.
const MAX_FRAME: usize = 16 * 1024 * 1024;

/// The outcome of parsing the front of the buffer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Part {
    /// Not enough bytes yet.
    Incomplete,
    /// One JPEG, and how many bytes of the buffer it used.
    Frame { jpeg: Vec<u8>, consumed: usize },
}

/// Parses one part at the start of `buf`: optional blank lines, `--<boundary>`,
/// headers up to an empty line, then exactly `Content-Length` bytes.
pub(crate) fn parse_part(buf: &[u8], boundary: &str) -> Result<Part> {
    let mut pos = 0;
    while buf[pos..].starts_with(b"\r\n") {
        pos += 2;
    }
    let Some(header_end) = find(&buf[pos..], b"\r\n\r\n") else {
        if buf.len() - pos > 8 * 1024 {
            return Err(decode("no end of part headers within 8 KiB"));
        }
        return Ok(Part::Incomplete);
    };
    let head = std::str::from_utf8(&buf[pos..pos + header_end])
        .map_err(|_| decode("part headers are not text"))?;
    let mut lines = head.split("\r\n");
    let delimiter = lines.next().unwrap_or_default().trim();
    if delimiter != format!("--{boundary}") {
        return Err(decode(&format!(
            "expected boundary `--{boundary}`, got {delimiter:?}"
        )));
    }
    let length = lines
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .map(|(_, value)| value.trim().parse::<usize>())
        .ok_or_else(|| decode("part has no Content-Length"))?
        .map_err(|_| decode("part Content-Length is not a number"))?;
    if length > MAX_FRAME {
        return Err(decode(&format!("part claims {length} bytes")));
    }
    let body_start = pos + header_end + 4;
    if buf.len() < body_start + length {
        return Ok(Part::Incomplete);
    }
    Ok(Part::Frame {
        jpeg: buf[body_start..body_start + length].to_vec(),
        consumed: body_start + length,
    })
}

/// The boundary from a `multipart/x-mixed-replace; boundary=frame` content type.
pub(crate) fn boundary(content_type: &str) -> Option<String> {
    content_type.split(';').find_map(|param| {
        let (name, value) = param.trim().split_once('=')?;
        name.eq_ignore_ascii_case("boundary")
            .then(|| value.trim().trim_matches('"').to_owned())
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn decode(message: &str) -> Error {
    Error::Decode {
        endpoint: ENDPOINT.to_owned(),
        path: "multipart".to_owned(),
        message: message.to_owned(),
    }
}

/// A running MJPEG stream; [`FrameStream::next_frame`] returns one JPEG at a time.
#[derive(Debug)]
pub struct FrameStream {
    response: reqwest::Response,
    boundary: String,
    buf: Vec<u8>,
}

impl FrameStream {
    /// The next JPEG, or `None` when the device ended the stream.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] when no complete frame arrives within `timeout`; decoding and
    /// connection errors.
    pub async fn next_frame(&mut self, timeout: Duration) -> Result<Option<Vec<u8>>> {
        let read = async {
            loop {
                if let Part::Frame { jpeg, consumed } = parse_part(&self.buf, &self.boundary)? {
                    self.buf.drain(..consumed);
                    return Ok(Some(jpeg));
                }
                match self.response.chunk().await {
                    Ok(Some(chunk)) => self.buf.extend_from_slice(&chunk),
                    Ok(None) => return Ok(None),
                    Err(e) => {
                        return Err(Error::Connection {
                            endpoint: ENDPOINT.to_owned(),
                            source: Box::new(e.without_url()),
                        });
                    }
                }
            }
        };
        tokio::time::timeout(timeout, read)
            .await
            .map_err(|_| Error::Timeout {
                endpoint: ENDPOINT.to_owned(),
                after: timeout,
            })?
    }
}

impl Client {
    /// Opens the MJPEG stream. Every open stream counts as a viewer on the device.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] when the device sends no headers within `timeout` (no signal,
    /// or an unchanged screen with frame detection on); authentication and connection
    /// errors; [`Error::Decode`] for a response that is not multipart.
    pub async fn frames(&self, timeout: Duration) -> Result<FrameStream> {
        let response = tokio::time::timeout(timeout, self.get_stream("/api/stream/mjpeg"))
            .await
            .map_err(|_| Error::Timeout {
                endpoint: ENDPOINT.to_owned(),
                after: timeout,
            })??;
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        if !content_type.starts_with("multipart/") {
            return Err(decode(&format!(
                "content type {content_type:?} is not multipart"
            )));
        }
        Ok(FrameStream {
            response,
            boundary: boundary(&content_type).unwrap_or_else(|| "frame".to_owned()),
            buf: Vec::new(),
        })
    }

    /// One JPEG of the target's screen: the first MJPEG frame, read within `timeout`
    /// (headers and frame together).
    ///
    /// # Errors
    ///
    /// As [`Client::frames`]; [`Error::Timeout`] when no frame arrives in time.
    pub async fn screenshot(&self, timeout: Duration) -> Result<Vec<u8>> {
        let started = tokio::time::Instant::now();
        let mut stream = self.frames(timeout).await?;
        let left = timeout.saturating_sub(started.elapsed());
        stream
            .next_frame(left)
            .await?
            .ok_or_else(|| decode("the stream ended before the first frame"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(jpeg: &[u8]) -> Vec<u8> {
        let mut out = format!(
            "--frame\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n",
            jpeg.len()
        )
        .into_bytes();
        out.extend_from_slice(jpeg);
        out.extend_from_slice(b"\r\n");
        out
    }

    #[test]
    fn parts_are_read_by_length_not_by_markers() {
        // A JPEG with an embedded end-of-image marker (as a thumbnail has) in the middle.
        let jpeg = [0xFF, 0xD8, 0xFF, 0xD9, 0x00, 0xFF, 0xD9];
        let mut stream = part(&jpeg);
        stream.extend(part(&[1, 2, 3]));
        let Part::Frame {
            jpeg: first,
            consumed,
        } = parse_part(&stream, "frame").unwrap()
        else {
            panic!("expected a frame");
        };
        assert_eq!(first, jpeg);
        let Part::Frame { jpeg: second, .. } = parse_part(&stream[consumed..], "frame").unwrap()
        else {
            panic!("expected a frame");
        };
        assert_eq!(second, [1, 2, 3]);
    }

    #[test]
    fn partial_input_waits_for_more() {
        let whole = part(&[7; 100]);
        for cut in [0, 10, 40, whole.len() - 3] {
            assert_eq!(
                parse_part(&whole[..cut], "frame").unwrap(),
                Part::Incomplete,
                "{cut}"
            );
        }
    }

    #[test]
    fn malformed_parts_are_decode_errors() {
        assert!(
            parse_part(b"--other\r\nContent-Length: 1\r\n\r\nx", "frame")
                .unwrap_err()
                .is_decode()
        );
        assert!(parse_part(b"--frame\r\nContent-Type: image/jpeg\r\n\r\nx", "frame").is_err());
        assert!(parse_part(b"--frame\r\nContent-Length: 99999999999\r\n\r\n", "frame").is_err());
        assert_eq!(
            boundary("multipart/x-mixed-replace; boundary=frame").as_deref(),
            Some("frame")
        );
    }
}
