//! The screen and `/api/stream/mjpeg`: raw multipart framing read off the socket, frames
//! decoded with a JPEG decoder, and what the picture shows.

use std::net::SocketAddr;

use nanokvm_sim::{Simulator, VideoStats};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{fast, login, request};

/// A raw MJPEG client: HTTP/1.1 head, then the chunked body decoded incrementally and
/// split into parts with the firmware's exact framing asserted byte by byte.
pub(crate) struct Mjpeg {
    tcp: TcpStream,
    raw: Vec<u8>,
    body: Vec<u8>,
    ended: bool,
}

/// The answer's status line and headers.
pub(crate) struct Head {
    pub(crate) status: u16,
    headers: Vec<(String, String)>,
}

impl Head {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl Mjpeg {
    pub(crate) async fn open(addr: SocketAddr, path: &str, cookie: &str) -> Self {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: nano-kvm-token={cookie}\r\n\r\n"
        );
        tcp.write_all(req.as_bytes()).await.unwrap();
        Self {
            tcp,
            raw: Vec::new(),
            body: Vec::new(),
            ended: false,
        }
    }

    /// Reads more bytes; `false` at end of stream.
    async fn read_more(&mut self) -> bool {
        let mut buf = [0u8; 64 * 1024];
        let n = self.tcp.read(&mut buf).await.unwrap();
        self.raw.extend_from_slice(&buf[..n]);
        n > 0
    }

    pub(crate) async fn head(&mut self) -> Head {
        let end = loop {
            if let Some(i) = find(&self.raw, b"\r\n\r\n") {
                break i;
            }
            assert!(self.read_more().await, "connection closed before the head");
        };
        let text = String::from_utf8(self.raw[..end].to_vec()).unwrap();
        self.raw.drain(..end + 4);
        let mut lines = text.split("\r\n");
        let status = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers = lines
            .map(|l| l.split_once(':').unwrap())
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect();
        Head { status, headers }
    }

    /// Decodes every complete chunk in `raw` into `body`.
    fn dechunk(&mut self) {
        while !self.ended {
            let Some(eol) = find(&self.raw, b"\r\n") else {
                return;
            };
            let size =
                usize::from_str_radix(std::str::from_utf8(&self.raw[..eol]).unwrap(), 16).unwrap();
            if self.raw.len() < eol + 2 + size + 2 {
                return;
            }
            let data = eol + 2..eol + 2 + size;
            self.body.extend_from_slice(&self.raw[data.clone()]);
            assert_eq!(&self.raw[data.end..data.end + 2], b"\r\n", "chunk framing");
            self.raw.drain(..data.end + 2);
            self.ended = size == 0;
        }
    }

    /// Makes sure `n` body bytes are buffered; `false` if the body ended first.
    async fn fill(&mut self, n: usize) -> bool {
        loop {
            self.dechunk();
            if self.body.len() >= n {
                return true;
            }
            if self.ended || !self.read_more().await {
                return false;
            }
        }
    }

    /// The next part's JPEG, after checking its framing exactly; `None` when the body
    /// ended cleanly between parts.
    pub(crate) async fn part(&mut self) -> Option<Vec<u8>> {
        const HEAD: &[u8] = b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: ";
        if !self.fill(1).await {
            return None;
        }
        let head_end = loop {
            if let Some(i) = find(&self.body, b"\r\n\r\n") {
                break i;
            }
            let more = self.body.len() + 1;
            assert!(self.fill(more).await, "body ended inside a part header");
        };
        assert_eq!(&self.body[..HEAD.len()], HEAD, "part header");
        let len: usize = std::str::from_utf8(&self.body[HEAD.len()..head_end])
            .unwrap()
            .parse()
            .unwrap();
        let start = head_end + 4;
        assert!(self.fill(start + len + 2).await, "body ended inside a part");
        let jpeg = self.body[start..start + len].to_vec();
        assert_eq!(
            &self.body[start + len..start + len + 2],
            b"\r\n",
            "part trailer"
        );
        self.body.drain(..start + len + 2);
        assert_eq!(
            jpeg[..2],
            [0xFF, 0xD8],
            "Content-Length frames a whole JPEG"
        );
        assert_eq!(
            jpeg[len - 2..],
            [0xFF, 0xD9],
            "Content-Length frames a whole JPEG"
        );
        Some(jpeg)
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A decoded picture.
pub(crate) struct Picture {
    pub(crate) width: u32,
    pub(crate) height: u32,
    rgb: Vec<u8>,
}

impl Picture {
    pub(crate) fn decode(jpeg: &[u8]) -> Self {
        let mut d = jpeg_decoder::Decoder::new(jpeg);
        let rgb = d.decode().unwrap();
        let info = d.info().unwrap();
        assert_eq!(info.pixel_format, jpeg_decoder::PixelFormat::RGB24);
        Self {
            width: u32::from(info.width),
            height: u32::from(info.height),
            rgb,
        }
    }

    /// Mean brightness (0..=255) of a rectangle.
    fn brightness(&self, x: u32, y: u32, w: u32, h: u32) -> f64 {
        let mut sum = 0u64;
        for yy in y..y + h {
            for xx in x..x + w {
                let i = ((yy * self.width + xx) * 3) as usize;
                sum += self.rgb[i..i + 3]
                    .iter()
                    .map(|&b| u64::from(b))
                    .sum::<u64>();
            }
        }
        sum as f64 / f64::from(w * h * 3)
    }
}

pub(crate) async fn small() -> Simulator {
    fast().resolution(320, 200).start().await.unwrap()
}

pub(crate) async fn post(sim: &Simulator, token: &str, path: &str, body: &str) {
    let r = request(sim.addr(), "POST", path, Some(token), Some(body)).await;
    assert_eq!(
        r.body, r#"{"code":0,"msg":"success","data":null}"#,
        "{path}"
    );
}

pub(crate) async fn ticks_after(sim: &Simulator, n: u64) -> VideoStats {
    let from = sim.video_stats().ticks;
    sim.wait_for_video(|s| s.ticks >= from + n).await
}

#[tokio::test]
async fn mjpeg_has_the_firmware_headers_and_exact_part_framing() {
    let sim = small().await;
    let t = login(&sim).await;
    // Query parameters are ignored: `n=1` does not make it a single frame.
    let mut s = Mjpeg::open(sim.addr(), "/api/stream/mjpeg?n=1&v=7", &t).await;
    let head = s.head().await;
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-type"),
        Some("multipart/x-mixed-replace; boundary=frame")
    );
    assert_eq!(head.header("cache-control"), Some("no-cache"));
    assert_eq!(head.header("pragma"), Some("no-cache"));
    assert_eq!(head.header("connection"), Some("keep-alive"));
    assert_eq!(head.header("transfer-encoding"), Some("chunked"));
    assert!(head.header("x-server-date").unwrap().ends_with(" GMT"));
    let mut frames = Vec::new();
    for _ in 0..3 {
        frames.push(s.part().await.unwrap());
    }
    let p = Picture::decode(&frames[0]);
    assert_eq!((p.width, p.height), (320, 200));
    // Without frame detection a static screen is resent every tick, encoded once.
    assert!(frames.iter().all(|f| *f == frames[0]));
    assert_eq!(sim.video_stats().encodes, 1);
    assert_eq!(sim.screenshot().jpeg(), &frames[0][..]);
    assert_eq!(
        sim.video_stats().encodes,
        1,
        "the screenshot shares the frame"
    );
}

#[tokio::test]
async fn no_headers_and_no_frames_without_signal_then_frames_after_power_on() {
    let sim = fast()
        .resolution(320, 200)
        .powered_on(false)
        .start()
        .await
        .unwrap();
    let t = login(&sim).await;
    let mut s = Mjpeg::open(sim.addr(), "/api/stream/mjpeg", &t).await;
    sim.wait_for_video(|v| v.clients == 1).await;
    let stats = ticks_after(&sim, 3).await;
    assert_eq!(stats.frames, 0);
    assert_eq!(stats.encodes, 0, "no capture work without a signal");
    // The request is recorded when its answer starts: it has not.
    assert!(!sim.requests().iter().any(|r| r.path == "/api/stream/mjpeg"));
    post(&sim, &t, "/api/vm/gpio", r#"{"type":"power"}"#).await;
    let head = s.head().await;
    assert_eq!(head.status, 200);
    // The first part shows the booted machine, not a black "off" picture.
    let p = Picture::decode(&s.part().await.unwrap());
    assert!(p.brightness(0, 0, 320, 40) > 1.0, "the banner is visible");
}

#[tokio::test]
async fn the_no_signal_fault_pauses_the_stream() {
    let sim = small().await;
    let t = login(&sim).await;
    let mut s = Mjpeg::open(sim.addr(), "/api/stream/mjpeg", &t).await;
    s.head().await;
    s.part().await.unwrap();
    sim.set_no_signal(true);
    let before = ticks_after(&sim, 1).await.frames;
    assert_eq!(ticks_after(&sim, 3).await.frames, before);
    sim.set_no_signal(false);
    s.part().await.unwrap();
}

#[tokio::test]
async fn frame_detection_skips_unchanged_frames() {
    let sim = small().await;
    let t = login(&sim).await;
    post(&sim, &t, "/api/stream/mjpeg/detect", r#"{"enabled":true}"#).await;
    let mut s = Mjpeg::open(sim.addr(), "/api/stream/mjpeg", &t).await;
    s.head().await;
    let first = s.part().await.unwrap();
    let frames = sim.video_stats().frames;
    assert_eq!(
        ticks_after(&sim, 5).await.frames,
        frames,
        "a static screen is skipped"
    );
    post(&sim, &t, "/api/hid/paste", r#"{"content":"x"}"#).await;
    let second = s.part().await.unwrap();
    assert_ne!(first, second);
    assert_eq!(sim.video_stats().frames, frames + 1);
    // Switching detection off makes the static picture flow again.
    post(&sim, &t, "/api/stream/mjpeg/detect", r#"{"enabled":false}"#).await;
    assert_eq!(s.part().await.unwrap(), second);
}

#[tokio::test]
async fn many_clients_share_one_encode_and_a_device_reboot_ends_the_streams() {
    let sim = small().await;
    let t = login(&sim).await;
    let mut clients = Vec::new();
    for _ in 0..5 {
        clients.push(Mjpeg::open(sim.addr(), "/api/stream/mjpeg", &t).await);
    }
    sim.wait_for_video(|v| v.clients == 5).await;
    let mut frames = Vec::new();
    for c in &mut clients {
        c.head().await;
        frames.push(c.part().await.unwrap());
    }
    assert!(frames.iter().all(|f| *f == frames[0]));
    assert_eq!(sim.video_stats().encodes, 1);
    sim.reboot_device();
    for c in &mut clients {
        while c.part().await.is_some() {}
    }
    sim.wait_for_video(|v| v.clients == 0).await;
}

#[tokio::test]
async fn a_screenshot_shows_the_typed_text_where_the_prompt_is() {
    let sim = small().await;
    let t = login(&sim).await;
    let before = sim.screenshot();
    assert_eq!((before.width(), before.height()), (320, 200));
    assert_eq!(before.quality(), 80);
    post(&sim, &t, "/api/hid/paste", r#"{"content":"HELLO"}"#).await;
    assert!(sim.screen_text().ends_with("target login: HELLO"));
    let after = sim.screenshot();
    assert!(after.screen_version() > before.screen_version());
    let (a, b) = (
        Picture::decode(before.jpeg()),
        Picture::decode(after.jpeg()),
    );
    assert_eq!((b.width, b.height), (320, 200));
    // At 320x200 a cell is 6x11 pixels after a 6-pixel margin; the prompt is the fourth
    // line and "target login: " is 14 characters, so HELLO covers x 90..120, y 39..46.
    let text = |p: &Picture| p.brightness(90, 39, 30, 7);
    assert!(text(&b) > text(&a) + 40.0, "{} -> {}", text(&a), text(&b));
    // The banner and the empty lower screen are unchanged.
    let banner = |p: &Picture| p.brightness(0, 0, 320, 28);
    assert!((banner(&a) - banner(&b)).abs() < 1.0);
    let empty = |p: &Picture| p.brightness(0, 150, 150, 50);
    assert!(empty(&b) < 2.0);
    // The quality follows the screen settings.
    post(
        &sim,
        &t,
        "/api/vm/screen",
        r#"{"type":"quality","value":50}"#,
    )
    .await;
    assert_eq!(sim.screenshot().quality(), 50);
}

#[tokio::test]
async fn the_pointer_is_drawn_where_absolute_reports_put_it() {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;

    let sim = small().await;
    let t = login(&sim).await;
    // The pointer starts at the centre; its white fill is just below and right of the tip.
    let fill_at = |p: &Picture, x: u32, y: u32| p.brightness(x + 1, y + 4, 3, 6);
    let before = Picture::decode(sim.screenshot().jpeg());
    assert!(
        fill_at(&before, 160, 100) > 150.0,
        "{}",
        fill_at(&before, 160, 100)
    );
    assert!(fill_at(&before, 239, 149) < 10.0);
    // An absolute report at three quarters of 0..=0x7FFF lands at (239, 149) on 320x200.
    let mut ws = crate::ws::connect(&sim, &t).await;
    let [xl, xh] = u16::try_from(0x7FFF_u32 * 3 / 4).unwrap().to_le_bytes();
    ws.send(Message::binary(vec![2, 0, xl, xh, xl, xh, 0]))
        .await
        .unwrap();
    sim.wait_for(|m| m.pointer() == (239, 149)).await;
    let after = Picture::decode(sim.screenshot().jpeg());
    assert!(
        fill_at(&after, 239, 149) > 150.0,
        "{}",
        fill_at(&after, 239, 149)
    );
    assert!(fill_at(&after, 160, 100) < 10.0);
}
