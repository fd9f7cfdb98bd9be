//! The `/api/ws` session against a small in-test device on 127.0.0.1:0: HTTP for login
//! and capabilities, and a tokio-tungstenite WebSocket that records every frame.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use nanokvm_client::api::hid::{KeyboardLeds, PasteLayout};
use nanokvm_client::ws::push::Push;
use nanokvm_client::{Client, SecretString, WsFraming};
use nanokvm_hid::{
    AbsolutePosition, Chord, KeyboardReport, Keycode, Layout, Modifiers, MouseButtons,
    RelativeReport, Stroke, TargetOs,
};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};

/// What the device saw on its sockets.
#[derive(Debug, PartialEq)]
enum Seen {
    Cookie(Option<String>),
    Binary(Vec<u8>),
    Text(String),
    Closed,
    /// The device dropped the socket without a close frame.
    Dropped,
}

struct FakeDevice {
    url: String,
    seen: mpsc::UnboundedReceiver<Seen>,
    /// Bumped to drop every open WebSocket without a close frame.
    kill: watch::Sender<u64>,
}

/// How the device behaves beyond recording frames.
#[derive(Clone, Copy, Default)]
struct Behaviour {
    /// Pushed once, after the first frame the client sends.
    push_after_first: Option<&'static str>,
    /// The first socket to receive this exact binary frame is dropped right after it,
    /// without a close frame.
    drop_after: Option<&'static [u8]>,
}

impl FakeDevice {
    async fn start(version: &'static str, push_after_first: Option<&'static str>) -> Self {
        Self::with(
            version,
            Behaviour {
                push_after_first,
                ..Behaviour::default()
            },
        )
        .await
    }

    async fn with(version: &'static str, behaviour: Behaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (tx, seen) = mpsc::unbounded_channel();
        let kill = watch::Sender::new(0);
        let kills = kill.clone();
        let dropped = Arc::new(AtomicBool::new(false));
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let tx = tx.clone();
                let ctx = Ctx {
                    version,
                    behaviour,
                    kill: kills.subscribe(),
                    dropped: dropped.clone(),
                };
                tokio::spawn(serve(stream, ctx, tx));
            }
        });
        Self { url, seen, kill }
    }

    /// Drops every open WebSocket without a close frame.
    fn drop_sockets(&self) {
        self.kill.send_modify(|n| *n += 1);
    }

    fn client(&self) -> Client {
        Client::builder(&self.url)
            .credentials("admin", SecretString::from("pw"))
            .heartbeat_interval(Duration::from_secs(60))
            .build()
            .unwrap()
    }

    async fn next(&mut self) -> Seen {
        tokio::time::timeout(Duration::from_secs(5), self.seen.recv())
            .await
            .expect("the device saw nothing within 5 s")
            .expect("device stopped")
    }

    /// The next frame, skipping heartbeats.
    async fn frame(&mut self) -> Seen {
        loop {
            match self.next().await {
                Seen::Binary(b) if b == [0] => continue,
                other => return other,
            }
        }
    }
}

struct Ctx {
    version: &'static str,
    behaviour: Behaviour,
    kill: watch::Receiver<u64>,
    /// Whether a socket was already dropped for `drop_after`.
    dropped: Arc<AtomicBool>,
}

async fn serve(mut stream: TcpStream, mut ctx: Ctx, tx: mpsc::UnboundedSender<Seen>) {
    let version = ctx.version;
    let push_after_first = ctx.behaviour.push_after_first;
    let mut peek = [0u8; 64];
    let n = stream.peek(&mut peek).await.unwrap_or(0);
    if peek[..n].starts_with(b"GET /api/ws") {
        let cookie_tx = tx.clone();
        // The callback's error type is fixed by tungstenite's handshake API.
        #[allow(clippy::result_large_err)]
        let callback = move |req: &Request, resp: Response| {
            let cookie = req
                .headers()
                .get("cookie")
                .map(|v| v.to_str().unwrap_or_default().to_owned());
            let _ = cookie_tx.send(Seen::Cookie(cookie));
            Ok(resp)
        };
        let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(stream, callback).await else {
            return;
        };
        let mut pushed = false;
        ctx.kill.mark_unchanged();
        loop {
            let message = tokio::select! {
                message = ws.next() => match message {
                    Some(message) => message,
                    None => break,
                },
                _ = ctx.kill.changed() => {
                    // Dropping the stream closes the TCP connection without a close frame.
                    let _ = tx.send(Seen::Dropped);
                    return;
                }
            };
            match message {
                Ok(Message::Binary(b)) => {
                    let trigger = ctx.behaviour.drop_after == Some(&b[..])
                        && !ctx.dropped.swap(true, Ordering::SeqCst);
                    let _ = tx.send(Seen::Binary(b.to_vec()));
                    if trigger {
                        let _ = tx.send(Seen::Dropped);
                        return;
                    }
                }
                Ok(Message::Text(t)) => {
                    let _ = tx.send(Seen::Text(t.to_string()));
                }
                Ok(Message::Close(_)) | Err(_) => break,
                Ok(_) => continue,
            }
            if let (Some(push), false) = (push_after_first, pushed) {
                pushed = true;
                let _ = ws.send(Message::Text(push.into())).await;
            }
        }
        let _ = tx.send(Seen::Closed);
        return;
    }
    // A minimal HTTP/1.1 responder for login and capabilities.
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let Ok(n) = stream.read(&mut chunk).await else {
            return;
        };
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap_or(0))
        })
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let Ok(n) = stream.read(&mut chunk).await else {
            return;
        };
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let path = head
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    let (cookie, data) = match path.as_str() {
        "/api/auth/login" => (Some("nano-kvm-token=ws-token; Path=/"), "null".to_owned()),
        "/api/vm/info" => (
            None,
            format!(
                r#"{{"ips":null,"mdns":"","image":"","application":"{version}","deviceKey":""}}"#
            ),
        ),
        "/api/vm/hardware" => (None, r#"{"version":"Beta"}"#.to_owned()),
        _ => (None, "null".to_owned()),
    };
    let body = format!(r#"{{"code":0,"msg":"success","data":{data}}}"#);
    let mut response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    if let Some(cookie) = cookie {
        response.push_str(&format!("Set-Cookie: {cookie}\r\n"));
    }
    response.push_str("\r\n");
    response.push_str(&body);
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

fn kb(bytes: [u8; 8]) -> Seen {
    let mut out = vec![1];
    out.extend_from_slice(&bytes);
    Seen::Binary(out)
}

#[tokio::test]
async fn binary_chords_carry_the_cookie_and_exact_bytes() {
    let mut device = FakeDevice::start("2.5.0", None).await;
    let session = device.client().ws().await.unwrap();
    assert_eq!(session.framing(), WsFraming::Binary);
    assert_eq!(
        device.next().await,
        Seen::Cookie(Some("nano-kvm-token=ws-token".to_owned()))
    );
    session.tap("ctrl+alt+delete").await.unwrap();
    let expected = [
        [0x01, 0, 0, 0, 0, 0, 0, 0],
        [0x05, 0, 0, 0, 0, 0, 0, 0],
        [0x05, 0, 0x4C, 0, 0, 0, 0, 0],
        [0x05, 0, 0, 0, 0, 0, 0, 0],
        [0x01, 0, 0, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0, 0, 0],
    ];
    for bytes in expected {
        assert_eq!(device.frame().await, kb(bytes));
    }
    session.move_to_normalized(0.5, 0.5).await.unwrap();
    assert_eq!(
        device.frame().await,
        Seen::Binary(vec![2, 0, 0x00, 0x40, 0x00, 0x40, 0])
    );
    session.click(MouseButtons::LEFT).await.unwrap();
    assert_eq!(
        device.frame().await,
        Seen::Binary(vec![2, 1, 0x00, 0x40, 0x00, 0x40, 0])
    );
    assert_eq!(
        device.frame().await,
        Seen::Binary(vec![2, 0, 0x00, 0x40, 0x00, 0x40, 0])
    );
    session.scroll(-3).await.unwrap();
    assert_eq!(device.frame().await, Seen::Binary(vec![2, 0, 0, 0, 0xFD]));
    session.move_by(200, 0).await.unwrap();
    assert_eq!(device.frame().await, Seen::Binary(vec![2, 0, 100, 0, 0]));
    assert_eq!(device.frame().await, Seen::Binary(vec![2, 0, 100, 0, 0]));
}

#[tokio::test]
async fn legacy_firmware_gets_json_arrays() {
    let mut device = FakeDevice::start("2.3.1", None).await;
    let session = device.client().ws().await.unwrap();
    assert_eq!(session.framing(), WsFraming::JsonArrays);
    assert!(matches!(device.next().await, Seen::Cookie(Some(_))));
    session
        .type_text("aB", Layout::Us, Duration::ZERO)
        .await
        .unwrap();
    for text in [
        "[1,4,0,0,0,0]",
        "[1,0,0,0,0,0]",
        "[1,5,0,2,0,0]",
        "[1,0,0,0,0,0]",
        "[1,0,0,0,0,0]",
    ] {
        assert_eq!(device.frame().await, Seen::Text(text.to_owned()));
    }
    session.move_to_normalized(0.0, 1.0).await.unwrap();
    assert_eq!(
        device.frame().await,
        Seen::Text("[2,2,0,0,32767]".to_owned())
    );
}

#[tokio::test]
async fn strokes_are_typed_exactly_as_given() {
    let mut device = FakeDevice::start("2.5.0", None).await;
    let session = device.client().ws().await.unwrap();
    device.next().await;
    let shift = Modifiers::LEFT_SHIFT;
    let strokes = [
        // Shift held into the next stroke, as input methods need.
        Stroke {
            hold_modifiers: true,
            ..Stroke::new(shift, Keycode::A)
        },
        Stroke::new(shift, Keycode::from_usage(5)),
        // What the firmware's German paste types for `@`: AltGr and Q.
        PasteLayout::De.stroke('@').unwrap(),
    ];
    session
        .type_strokes(&strokes, Duration::from_millis(1))
        .await
        .unwrap();
    for bytes in [
        [0x02, 0, 0x04, 0, 0, 0, 0, 0],
        [0x02, 0, 0, 0, 0, 0, 0, 0],
        [0x02, 0, 0x05, 0, 0, 0, 0, 0],
        [0; 8],
        [0x40, 0, 0x14, 0, 0, 0, 0, 0],
        [0; 8],
        [0; 8],
    ] {
        assert_eq!(device.frame().await, kb(bytes));
    }
    // No strokes: only the final release.
    session.type_strokes(&[], Duration::ZERO).await.unwrap();
    assert_eq!(device.frame().await, kb([0; 8]));
    session.tap("f1").await.unwrap();
    assert_eq!(device.frame().await, kb([0, 0, 0x3A, 0, 0, 0, 0, 0]));
}

#[tokio::test]
async fn typing_follows_the_target_system() {
    let mut device = FakeDevice::start("2.5.0", None).await;
    let session = device.client().ws().await.unwrap();
    device.next().await;
    // `#` on a Czech target is AltGr+3 on Linux and AltGr+X on Windows.
    session
        .type_text("#", Layout::Cz.on(TargetOs::Linux), Duration::ZERO)
        .await
        .unwrap();
    session
        .type_text("#", Layout::Cz, Duration::ZERO)
        .await
        .unwrap();
    for bytes in [
        [0x40, 0, 0x20, 0, 0, 0, 0, 0],
        [0; 8],
        [0; 8],
        [0x40, 0, 0x1B, 0, 0, 0, 0, 0],
        [0; 8],
        [0; 8],
    ] {
        assert_eq!(device.frame().await, kb(bytes));
    }
}

#[tokio::test]
async fn untypeable_text_is_refused_before_sending() {
    let mut device = FakeDevice::start("2.5.0", None).await;
    let session = device.client().ws().await.unwrap();
    device.next().await;
    let err = session
        .type_text("ok Ж", Layout::Us, Duration::ZERO)
        .await
        .unwrap_err();
    assert!(err.is_invalid_input(), "{err:?}");
    // The next thing the device sees is the marker, not a part of "ok".
    session.tap("f1").await.unwrap();
    assert_eq!(device.frame().await, kb([0, 0, 0x3A, 0, 0, 0, 0, 0]));
}

#[tokio::test]
async fn a_cancelled_operation_releases_what_it_held() {
    let mut device = FakeDevice::start("2.5.0", None).await;
    let session = device.client().ws().await.unwrap();
    device.next().await;
    let chord: Chord = "shift+a".parse().unwrap();
    {
        let press = session.press_chord(&chord, Duration::from_secs(30));
        tokio::pin!(press);
        tokio::select! {
            _ = &mut press => panic!("the hold should still be running"),
            seen = async {
                let first = device.frame().await;
                let second = device.frame().await;
                (first, second)
            } => {
                assert_eq!(seen.0, kb([0x02, 0, 0, 0, 0, 0, 0, 0]));
                assert_eq!(seen.1, kb([0x02, 0, 0x04, 0, 0, 0, 0, 0]));
            }
        }
    }
    assert_eq!(device.frame().await, kb([0; 8]));
}

#[tokio::test]
async fn dropping_the_session_releases_and_closes() {
    let mut device = FakeDevice::start("2.5.0", None).await;
    let session = device.client().ws().await.unwrap();
    device.next().await;
    let held =
        nanokvm_hid::KeyboardReport::new(nanokvm_hid::Modifiers::NONE, &[nanokvm_hid::Keycode::A])
            .unwrap();
    session.keyboard_report(held).await.unwrap();
    assert_eq!(device.frame().await, kb([0, 0, 4, 0, 0, 0, 0, 0]));
    drop(session);
    assert_eq!(device.frame().await, kb([0; 8]));
    assert_eq!(device.frame().await, Seen::Closed);
}

#[tokio::test]
async fn heartbeats_flow_while_idle() {
    let mut device = FakeDevice::start("2.5.0", None).await;
    let client = Client::builder(&device.url)
        .credentials("admin", SecretString::from("pw"))
        .heartbeat_interval(Duration::from_millis(50))
        .build()
        .unwrap();
    let _session = client.ws().await.unwrap();
    device.next().await;
    assert_eq!(device.next().await, Seen::Binary(vec![0]));
    assert_eq!(device.next().await, Seen::Binary(vec![0]));
}

#[tokio::test]
async fn pushes_are_decoded() {
    let push = r#"{"type":"hid-led-status","data":"{\"numLock\":true,\"capsLock\":false,\"scrollLock\":true,\"known\":true,\"updatedAt\":\"2026-01-01T00:00:00Z\"}"}"#;
    let mut device = FakeDevice::start("2.5.0", Some(push)).await;
    let session = device.client().ws().await.unwrap();
    device.next().await;
    let mut pushes = session.subscribe();
    session.tap("a").await.unwrap();
    let received = tokio::time::timeout(Duration::from_secs(5), pushes.recv())
        .await
        .unwrap()
        .unwrap();
    let expected = KeyboardLeds {
        num_lock: true,
        caps_lock: false,
        scroll_lock: true,
        updated_at: "2026-01-01T00:00:00Z".to_owned(),
    };
    assert_eq!(received, Push::KeyboardLeds(Some(expected.clone())));
    assert_eq!(session.keyboard_leds(), Some(expected));
}

fn abs(buttons: u8, x: u16, y: u16) -> Seen {
    let [xl, xh] = x.to_le_bytes();
    let [yl, yh] = y.to_le_bytes();
    Seen::Binary(vec![2, buttons, xl, xh, yl, yh, 0])
}

#[tokio::test]
async fn double_clicks_drags_and_scrolls_have_exact_binary_frames() {
    let mut device = FakeDevice::start("2.5.0", None).await;
    let session = device.client().ws().await.unwrap();
    device.next().await;

    session
        .move_to(AbsolutePosition::new(1000, 2000))
        .await
        .unwrap();
    session.double_click(MouseButtons::LEFT).await.unwrap();
    for seen in [
        abs(0, 1000, 2000),
        abs(1, 1000, 2000),
        abs(0, 1000, 2000),
        abs(1, 1000, 2000),
        abs(0, 1000, 2000),
    ] {
        assert_eq!(device.frame().await, seen);
    }

    session
        .drag(
            AbsolutePosition::new(100, 200),
            AbsolutePosition::new(300, 600),
            MouseButtons::RIGHT,
            2,
        )
        .await
        .unwrap();
    for seen in [
        abs(0, 100, 200),
        abs(2, 100, 200),
        abs(2, 200, 400),
        abs(2, 300, 600),
        abs(0, 300, 600),
    ] {
        assert_eq!(device.frame().await, seen);
    }

    // After a relative move, buttons go to the relative device.
    session.move_by(-5, 3).await.unwrap();
    assert_eq!(device.frame().await, Seen::Binary(vec![2, 0, 0xFB, 3, 0]));
    session.double_click(MouseButtons::MIDDLE).await.unwrap();
    for buttons in [4, 0, 4, 0] {
        assert_eq!(
            device.frame().await,
            Seen::Binary(vec![2, buttons, 0, 0, 0])
        );
    }

    // Scrolling splits into wheel steps of at most 127; positive is up.
    session.scroll(300).await.unwrap();
    for _ in 0..3 {
        assert_eq!(device.frame().await, Seen::Binary(vec![2, 0, 0, 0, 100]));
    }
    session.scroll(-1).await.unwrap();
    assert_eq!(device.frame().await, Seen::Binary(vec![2, 0, 0, 0, 0xFF]));
}

#[tokio::test]
async fn legacy_firmware_gets_json_clicks_drags_and_scrolls() {
    let mut device = FakeDevice::start("2.3.1", None).await;
    let session = device.client().ws().await.unwrap();
    device.next().await;
    session
        .move_to(AbsolutePosition::new(1000, 2000))
        .await
        .unwrap();
    session.double_click(MouseButtons::LEFT).await.unwrap();
    session
        .drag(
            AbsolutePosition::new(100, 200),
            AbsolutePosition::new(300, 600),
            MouseButtons::RIGHT,
            1,
        )
        .await
        .unwrap();
    session.scroll(2).await.unwrap();
    session.scroll(-1).await.unwrap();
    // On this protocol absolute moves never carry buttons: presses and releases are
    // events on the relative device, sent after the move.
    for text in [
        "[2,2,0,1000,2000]",
        "[2,2,0,1000,2000]",
        "[2,1,1,0,0]",
        "[2,2,0,1000,2000]",
        "[2,0,0,0,0]",
        "[2,2,0,1000,2000]",
        "[2,1,1,0,0]",
        "[2,2,0,1000,2000]",
        "[2,0,0,0,0]",
        "[2,2,0,100,200]",
        "[2,2,0,100,200]",
        "[2,1,2,0,0]",
        "[2,2,0,300,600]",
        "[2,2,0,300,600]",
        "[2,0,0,0,0]",
        "[2,4,0,0,1]",
        "[2,4,0,0,1]",
        "[2,4,0,0,-1]",
    ] {
        assert_eq!(device.frame().await, Seen::Text(text.to_owned()));
    }
}

#[tokio::test]
async fn the_session_reconnects_after_the_device_drops_it() {
    let mut device = FakeDevice::start("2.5.0", None).await;
    let session = device.client().ws().await.unwrap();
    assert!(matches!(device.next().await, Seen::Cookie(Some(_))));
    assert_eq!(session.connection_count(), 1);
    // Hold a key, then lose the socket: the firmware releases on disconnect, so the new
    // socket must not start with a release (or anything else) from the client.
    let held = KeyboardReport::new(Modifiers::NONE, &[Keycode::A]).unwrap();
    session.keyboard_report(held).await.unwrap();
    assert_eq!(device.frame().await, kb([0, 0, 4, 0, 0, 0, 0, 0]));

    let mut connections = session.watch_connections();
    device.drop_sockets();
    assert_eq!(device.next().await, Seen::Dropped);
    tokio::time::timeout(Duration::from_secs(5), connections.wait_for(|n| *n == 2))
        .await
        .expect("the session reconnects within 5 s")
        .unwrap();
    assert_eq!(
        device.next().await,
        Seen::Cookie(Some("nano-kvm-token=ws-token".to_owned()))
    );
    session.tap("f2").await.unwrap();
    assert_eq!(device.frame().await, kb([0, 0, 0x3B, 0, 0, 0, 0, 0]));
    assert_eq!(device.frame().await, kb([0; 8]));
    assert_eq!(session.connection_count(), 2);
}

#[tokio::test]
async fn typing_stops_when_the_connection_is_lost_half_way() {
    // The device drops the socket as soon as it sees `b` pressed.
    let mut device = FakeDevice::with(
        "2.5.0",
        Behaviour {
            drop_after: Some(&[1, 0, 0, 0x05, 0, 0, 0, 0, 0]),
            ..Behaviour::default()
        },
    )
    .await;
    let session = device.client().ws().await.unwrap();
    device.next().await;
    // Uninterrupted, this takes a second; the drop is noticed within milliseconds.
    let err = session
        .type_text("abcdefghij", Layout::Us, Duration::from_millis(100))
        .await
        .unwrap_err();
    assert!(err.is_connection(), "{err:?}");
    assert!(
        err.to_string().contains("lost during the operation"),
        "{err}"
    );
    for seen in [
        kb([0, 0, 4, 0, 0, 0, 0, 0]),
        kb([0; 8]),
        kb([0, 0, 5, 0, 0, 0, 0, 0]),
        Seen::Dropped,
    ] {
        assert_eq!(device.frame().await, seen);
    }
    // Nothing of the rest of the text reaches the new socket: the next frame after the
    // new upgrade is the marker.
    assert!(matches!(device.frame().await, Seen::Cookie(Some(_))));
    session.tap("f1").await.unwrap();
    assert_eq!(device.frame().await, kb([0, 0, 0x3A, 0, 0, 0, 0, 0]));
    assert_eq!(session.connection_count(), 2);
}

#[tokio::test]
async fn a_cancelled_click_and_drag_release_the_buttons() {
    let mut device = FakeDevice::start("2.5.0", None).await;
    let session = device.client().ws().await.unwrap();
    device.next().await;
    session
        .move_to(AbsolutePosition::new(10, 20))
        .await
        .unwrap();
    assert_eq!(device.frame().await, abs(0, 10, 20));
    {
        let click = session.click(MouseButtons::LEFT);
        tokio::pin!(click);
        tokio::select! {
            _ = &mut click => panic!("the click should still be holding"),
            seen = device.frame() => assert_eq!(seen, abs(1, 10, 20)),
        }
    }
    // Only the guard can have sent this: the click's own release never ran.
    assert_eq!(device.frame().await, abs(0, 10, 20));

    // A relative button press left held by a raw report is released on drop.
    session
        .relative_report(RelativeReport {
            buttons: MouseButtons::RIGHT,
            ..RelativeReport::default()
        })
        .await
        .unwrap();
    assert_eq!(device.frame().await, Seen::Binary(vec![2, 2, 0, 0, 0]));
    drop(session);
    assert_eq!(device.frame().await, Seen::Binary(vec![2, 0, 0, 0, 0]));
    assert_eq!(device.frame().await, Seen::Closed);
}
