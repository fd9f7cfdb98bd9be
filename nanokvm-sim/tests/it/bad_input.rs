//! Bad input of every kind: malformed and mistyped JSON on every binding route, huge
//! bodies, path traversal and NUL bytes in file names, and malformed WebSocket frames.
//! Each gets the firmware's answer, and afterwards the simulator's state is checked to
//! be exactly what it was.

use futures_util::{SinkExt, StreamExt};
use nanokvm_sim::{FirmwareVersion, HidReport, PowerState, Simulator};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

use crate::support::{fast, login, request, start};
use crate::ws::connect;

/// Routes that bind a JSON body, and what they answer when the bind fails.
const BINDING_ROUTES: &[(&str, &str, &str)] = &[
    ("POST", "/api/vm/screen", "invalid arguments"),
    ("POST", "/api/vm/hostname", "invalid arguments"),
    ("POST", "/api/vm/web-title", "invalid arguments"),
    ("POST", "/api/vm/mouse-jiggler/", "invalid arguments"),
    ("POST", "/api/vm/hdmi/timeout", "invalid arguments"),
    ("POST", "/api/vm/device/virtual", "invalid arguments"),
    ("POST", "/api/vm/swap", "invalid arguments"),
    ("POST", "/api/vm/oled", "invalid arguments"),
    ("POST", "/api/vm/memory/limit", "invalid arguments"),
    ("POST", "/api/vm/autostart/x.sh", "parse form request fail"),
    ("POST", "/api/vm/script/run", "invalid arguments"),
    ("DELETE", "/api/vm/script", "invalid arguments"),
    ("POST", "/api/hid/paste", "invalid arguments"),
    ("POST", "/api/hid/mode", "invalid arguments"),
    ("POST", "/api/hid/shortcut", "invalid arguments"),
    ("DELETE", "/api/hid/shortcut", "invalid arguments"),
    ("POST", "/api/hid/shortcut/leader-key", "invalid arguments"),
    ("POST", "/api/stream/mjpeg/detect", "invalid arguments"),
    ("POST", "/api/stream/mjpeg/detect/stop", "invalid arguments"),
    ("POST", "/api/storage/image/mount", "invalid arguments"),
    ("POST", "/api/storage/image/delete", "invalid arguments"),
    ("POST", "/api/download/image", "invalid arguments"),
    ("POST", "/api/network/wol", "invalid arguments"),
    ("DELETE", "/api/network/wol/mac", "invalid arguments"),
    ("POST", "/api/network/wol/mac/name", "invalid arguments"),
    ("POST", "/api/network/wifi/connect", "invalid parameters"),
    ("POST", "/api/network/dns", "invalid arguments"),
    ("POST", "/api/application/preview", "invalid arguments"),
    (
        "POST",
        "/api/application/update-server",
        "invalid arguments",
    ),
];

/// Bodies no JSON decoder accepts as an object.
const MALFORMED: &[&str] = &[
    "",
    "{",
    "[1,2]",
    "\"text\"",
    "{\"a\":}",
    "\u{0}",
    "{\"file\":\"\\ud800\"",
    "true",
];

/// What the simulator shows of its state, to compare before and after.
#[derive(Debug, PartialEq)]
struct Snapshot {
    power: PowerState,
    screen: String,
    reports: Vec<HidReport>,
    wol: usize,
    mounted: Option<String>,
    files: Vec<String>,
    settings: Vec<String>,
}

async fn snapshot(sim: &Simulator, t: &str) -> Snapshot {
    let mut settings = Vec::new();
    for path in [
        "/api/vm/hostname",
        "/api/vm/web-title",
        "/api/vm/mouse-jiggler",
        "/api/vm/hdmi",
        "/api/vm/device/virtual",
        "/api/vm/swap",
        "/api/vm/oled",
        "/api/vm/memory/limit",
        "/api/hid/mode",
        "/api/hid/shortcuts",
        "/api/hid/shortcut/leader-key",
        "/api/network/wol/mac",
        "/api/network/dns",
        "/api/application/preview",
        "/api/application/update-server",
        "/api/download/image/status",
    ] {
        settings.push(request(sim.addr(), "GET", path, Some(t), None).await.body);
    }
    let mut files: Vec<String> = std::fs::read_dir(sim.data_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    Snapshot {
        power: sim.power(),
        screen: sim.screen_text(),
        reports: sim.hid_reports(),
        wol: sim.wol_packets().len(),
        mounted: sim.mounted_image(),
        files,
        settings,
    }
}

#[tokio::test]
async fn malformed_json_gets_the_bind_error_everywhere_and_changes_nothing() {
    let sim = start(FirmwareVersion::V2_5_1).await;
    let t = login(&sim).await;
    std::fs::write(sim.data_dir().join("keep.iso"), b"x").unwrap();
    let before = snapshot(&sim, &t).await;
    for (method, path, msg) in BINDING_ROUTES {
        for body in MALFORMED {
            let r = request(sim.addr(), method, path, Some(&t), Some(body)).await;
            assert_eq!(
                (r.status, r.body.as_str()),
                (
                    200,
                    format!(r#"{{"code":-1,"msg":"{msg}","data":null}}"#).as_str()
                ),
                "{method} {path} {body:?}"
            );
        }
    }
    // The GPIO route puts the validator's text after its message.
    for body in MALFORMED {
        let r = request(sim.addr(), "POST", "/api/vm/gpio", Some(&t), Some(body)).await;
        assert_eq!(r.json()["code"], -1, "{body:?}");
        assert!(
            r.json()["msg"]
                .as_str()
                .unwrap()
                .starts_with("invalid arguments: ")
        );
    }
    assert_eq!(snapshot(&sim, &t).await, before);
}

#[tokio::test]
async fn mistyped_fields_fail_the_whole_bind() {
    let sim = start(FirmwareVersion::V2_5_1).await;
    let t = login(&sim).await;
    std::fs::write(sim.data_dir().join("keep.iso"), b"x").unwrap();
    let before = snapshot(&sim, &t).await;
    for (path, body) in [
        ("/api/vm/screen", r#"{"type":1,"value":2}"#),
        ("/api/vm/screen", r#"{"type":"fps","value":"30"}"#),
        ("/api/vm/hostname", r#"{"hostname":["a"]}"#),
        ("/api/vm/web-title", r#"{"title":{"a":1}}"#),
        ("/api/vm/mouse-jiggler/", r#"{"enabled":"on"}"#),
        ("/api/vm/hdmi/timeout", r#"{"minutes":"5"}"#),
        ("/api/vm/hdmi/timeout", r#"{"minutes":1.5}"#),
        ("/api/vm/hdmi/timeout", r#"{"minutes":-1}"#),
        ("/api/vm/swap", r#"{"size":1e3}"#),
        ("/api/hid/paste", r#"{"content":true}"#),
        ("/api/hid/paste", r#"{"content":"x","langue":7}"#),
        ("/api/hid/mode", r#"{"mode":null}"#),
        ("/api/network/wol/mac/name", r#"{"mac":"","name":"x"}"#),
        ("/api/storage/image/mount", r#"{"file":[1]}"#),
        (
            "/api/storage/image/mount",
            r#"{"file":"/data/keep.iso","cdrom":"yes"}"#,
        ),
        ("/api/storage/image/delete", r#"{"file":7}"#),
        (
            "/api/download/image",
            r#"{"file":{"url":"http://h/x.iso"}}"#,
        ),
        ("/api/network/wol", r#"{"mac":5}"#),
        (
            "/api/network/dns",
            r#"{"mode":"manual","servers":"1.1.1.1"}"#,
        ),
        ("/api/network/dns", r#"{"mode":"manual","servers":[1]}"#),
    ] {
        let r = request(sim.addr(), "POST", path, Some(&t), Some(body)).await;
        assert_eq!(r.status, 200, "{path} {body}");
        assert_eq!(r.json()["code"], -1, "{path} {body}: {}", r.body);
        assert_eq!(r.json()["data"], serde_json::Value::Null);
    }
    assert_eq!(snapshot(&sim, &t).await, before);
}

#[tokio::test]
async fn huge_bodies_are_refused_without_harm() {
    let sim = start(FirmwareVersion::V2_5_1).await;
    let t = login(&sim).await;
    let before = snapshot(&sim, &t).await;
    let huge = format!(r#"{{"content":"{}"}}"#, "a".repeat(6 << 20));
    let r = request(sim.addr(), "POST", "/api/hid/paste", Some(&t), Some(&huge)).await;
    assert_eq!(
        r.body,
        r#"{"code":-1,"msg":"invalid arguments","data":null}"#
    );
    let huge = format!(r#"{{"hostname":"{}"}}"#, "h".repeat(6 << 20));
    let r = request(
        sim.addr(),
        "POST",
        "/api/vm/hostname",
        Some(&t),
        Some(&huge),
    )
    .await;
    assert_eq!(
        r.body,
        r#"{"code":-1,"msg":"invalid arguments","data":null}"#
    );
    // A long but acceptable paste still gets its own rule's answer.
    let long = format!(r#"{{"content":"{}"}}"#, "a".repeat(834));
    let r = request(sim.addr(), "POST", "/api/hid/paste", Some(&t), Some(&long)).await;
    assert_eq!(
        r.body,
        r#"{"code":-2,"msg":"content too long","data":null}"#
    );
    assert_eq!(snapshot(&sim, &t).await, before);
}

#[tokio::test]
async fn storage_paths_outside_the_data_directory_touch_nothing() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let sim = fast().data_dir(&data).start().await.unwrap();
    let t = login(&sim).await;
    std::fs::write(root.path().join("secret.iso"), b"outside").unwrap();
    std::fs::write(data.join("keep.iso"), b"inside").unwrap();
    let before = snapshot(&sim, &t).await;
    let mount_failed = r#"{"code":-2,"msg":"mount image failed","data":null}"#;
    let remove_failed = r#"{"code":-3,"msg":"remove file failed","data":null}"#;
    let not_data = r#"{"code":-2,"msg":"invalid arguments","data":null}"#;
    let secret = root.path().join("secret.iso");
    let absolute = secret.to_string_lossy().into_owned();
    for (path, body, answer) in [
        (
            "/api/storage/image/mount",
            r#"{"file":"/data/../secret.iso"}"#.to_owned(),
            mount_failed,
        ),
        (
            "/api/storage/image/mount",
            format!(r#"{{"file":"{absolute}"}}"#),
            mount_failed,
        ),
        (
            "/api/storage/image/mount",
            r#"{"file":"/etc/passwd"}"#.to_owned(),
            mount_failed,
        ),
        (
            "/api/storage/image/mount",
            r#"{"file":"/data/keep.iso\u0000"}"#.to_owned(),
            mount_failed,
        ),
        (
            "/api/storage/image/mount",
            r#"{"file":"/data/sub/../../secret.iso","cdrom":true}"#.to_owned(),
            mount_failed,
        ),
        (
            "/api/storage/image/delete",
            r#"{"file":"/data/../secret.iso"}"#.to_owned(),
            remove_failed,
        ),
        (
            "/api/storage/image/delete",
            r#"{"file":"/data/./../secret.iso"}"#.to_owned(),
            remove_failed,
        ),
        (
            "/api/storage/image/delete",
            r#"{"file":"/database.iso"}"#.to_owned(),
            remove_failed,
        ),
        (
            "/api/storage/image/delete",
            r#"{"file":"/data/keep.iso\u0000.iso"}"#.to_owned(),
            remove_failed,
        ),
        (
            "/api/storage/image/delete",
            format!(r#"{{"file":"{absolute}"}}"#),
            not_data,
        ),
        (
            "/api/storage/image/delete",
            r#"{"file":"/data/keep.iso/"}"#.to_owned(),
            not_data,
        ),
    ] {
        let r = request(sim.addr(), "POST", path, Some(&t), Some(&body)).await;
        assert_eq!(r.body, answer, "{path} {body}");
    }
    assert_eq!(std::fs::read(&secret).unwrap(), b"outside");
    assert_eq!(snapshot(&sim, &t).await, before);
    // Inside the data directory, `.` and `..` resolve as on the device.
    let r = request(
        sim.addr(),
        "POST",
        "/api/storage/image/delete",
        Some(&t),
        Some(r#"{"file":"/data/sub/../keep.iso"}"#),
    )
    .await;
    assert_eq!(r.body, r#"{"code":0,"msg":"success","data":null}"#);
    assert!(!data.join("keep.iso").exists());
    assert!(secret.exists());
}

#[tokio::test]
async fn malformed_websocket_frames_are_dropped_and_the_socket_keeps_working() {
    let sim = start(FirmwareVersion::V2_5_1).await;
    let t = login(&sim).await;
    let mut ws = connect(&sim, &t).await;
    let mut frames: Vec<Vec<u8>> = Vec::new();
    for len in 0..=12 {
        for first in [1u8, 2, 3, 0x5B, 0xFF] {
            if (first == 1 && len == 9) || (first == 2 && (len == 5 || len == 7)) {
                continue;
            }
            let mut f = vec![0x41; len];
            if let Some(b) = f.first_mut() {
                *b = first;
            }
            frames.push(f);
        }
    }
    frames.push(vec![1; 1 << 20]);
    for f in frames {
        ws.send(Message::Binary(f.into())).await.unwrap();
    }
    for text in ["[1,4,0,0,0,0]", "{", "\u{0}", "not json at all"] {
        ws.send(Message::Text(text.into())).await.unwrap();
    }
    ws.send(Message::Ping(b"still there?".to_vec().into()))
        .await
        .unwrap();
    // One valid report after all that: only it reaches the target.
    ws.send(Message::Binary(vec![1, 0, 0, 0x04, 0, 0, 0, 0, 0].into()))
        .await
        .unwrap();
    let state = sim
        .wait_for(|m| m.screen_text().ends_with("login: a"))
        .await;
    assert_eq!(state.power(), PowerState::On);
    assert_eq!(sim.hid_reports().len(), 1, "{:?}", sim.hid_reports());
    // The socket still answers.
    let mut pong = false;
    while let Some(Ok(m)) = ws.next().await {
        if matches!(m, Message::Pong(_)) {
            pong = true;
            break;
        }
    }
    assert!(pong);
}

#[tokio::test]
async fn legacy_json_frames_that_do_not_fit_are_ignored() {
    let sim = start(FirmwareVersion::V2_3_1).await;
    let t = login(&sim).await;
    let mut ws = connect(&sim, &t).await;
    for text in [
        "[",
        "[]",
        "[1]",
        "[1,4,0,0]",
        "[1,\"a\",0,0,0,0]",
        "[2,99,0,0,0]",
        "[2,1,3,0,0]",
        "[9,9,9,9,9,9]",
        "[1e309,4,0,0,0,0]",
        "{\"type\":1}",
    ] {
        ws.send(Message::Text(text.into())).await.unwrap();
    }
    ws.send(Message::Binary(vec![1, 0, 0, 4, 0, 0, 0, 0, 0].into()))
        .await
        .unwrap();
    ws.send(Message::Text("[1,5,0,0,0,0]".into()))
        .await
        .unwrap();
    sim.wait_for(|m| m.screen_text().ends_with("login: b"))
        .await;
    assert_eq!(sim.hid_reports().len(), 1, "{:?}", sim.hid_reports());
}

#[tokio::test]
async fn a_websocket_protocol_violation_closes_only_that_connection() {
    let sim = start(FirmwareVersion::V2_5_1).await;
    let t = login(&sim).await;
    let mut tcp = tokio::net::TcpStream::connect(sim.addr()).await.unwrap();
    let handshake = format!(
        "GET /api/ws HTTP/1.1\r\nHost: {}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Cookie: nano-kvm-token={t}\r\n\r\n",
        sim.addr()
    );
    tcp.write_all(handshake.as_bytes()).await.unwrap();
    // An unmasked client frame, then a length field claiming 2^63 bytes.
    tcp.write_all(&[0x82, 0x02, 1, 2]).await.unwrap();
    tcp.write_all(&[0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])
        .await
        .unwrap();
    // The server ends this connection; reading reaches the end.
    let mut rest = Vec::new();
    let _ = tcp.read_to_end(&mut rest).await;
    assert!(String::from_utf8_lossy(&rest).starts_with("HTTP/1.1 101"));
    // Everyone else is unaffected.
    let r = request(sim.addr(), "GET", "/api/vm/gpio", Some(&t), None).await;
    assert_eq!(
        r.body,
        r#"{"code":0,"msg":"success","data":{"pwr":true,"hdd":false}}"#
    );
    assert!(sim.hid_reports().is_empty());
}
