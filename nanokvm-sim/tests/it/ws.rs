//! The HID WebSocket, with raw frames.

use futures_util::{SinkExt, StreamExt};
use nanokvm_sim::{FirmwareVersion, HidReport, Simulator};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::support::{login, start};

pub(crate) type Ws = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

pub(crate) async fn connect(sim: &Simulator, token: &str) -> Ws {
    let tcp = tokio::net::TcpStream::connect(sim.addr()).await.unwrap();
    let mut req = format!("ws://{}/api/ws", sim.addr())
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("cookie", format!("nano-kvm-token={token}").parse().unwrap());
    let (ws, _) = tokio_tungstenite::client_async(req, tcp).await.unwrap();
    ws
}

pub(crate) async fn next_text(ws: &mut Ws) -> serde_json::Value {
    loop {
        match ws.next().await.unwrap().unwrap() {
            Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn greets_with_status_pushes_with_double_encoded_data() {
    let sim = start(FirmwareVersion::V2_5_1).await;
    let t = login(&sim).await;
    let mut ws = connect(&sim, &t).await;
    let first = next_text(&mut ws).await;
    assert_eq!(first["type"], "h264-mode-status");
    let inner: serde_json::Value = serde_json::from_str(first["data"].as_str().unwrap()).unwrap();
    assert_eq!(inner["direct"], 0);
    let leds = next_text(&mut ws).await;
    assert_eq!(leds["type"], "hid-led-status");
    let inner: serde_json::Value = serde_json::from_str(leds["data"].as_str().unwrap()).unwrap();
    assert_eq!(inner["known"], true);
    assert_eq!(inner["capsLock"], false);
}

#[tokio::test]
async fn binary_reports_type_on_the_console_and_caps_lock_pushes_leds() {
    let sim = start(FirmwareVersion::V2_5_1).await;
    let t = login(&sim).await;
    let mut ws = connect(&sim, &t).await;
    next_text(&mut ws).await;
    next_text(&mut ws).await;
    let frames: [&[u8]; 8] = [
        &[1, 0, 0, 0x39, 0, 0, 0, 0, 0], // Caps Lock
        &[1, 0, 0, 0, 0, 0, 0, 0, 0],
        &[1, 0, 0, 0x04, 0, 0, 0, 0, 0], // a -> A
        &[1, 0, 0, 0, 0, 0, 0, 0],       // 8 bytes: dropped
        &[1, 0, 0, 0, 0, 0, 0, 0, 0],
        &[0],                // heartbeat
        &[2, 1, 0, 0, 0, 0], // 6 bytes: dropped
        &[2, 1, 0xFF, 0x7F, 0xFF, 0x7F, 0],
    ];
    for f in frames {
        ws.send(Message::Binary(f.to_vec().into())).await.unwrap();
    }
    let push = next_text(&mut ws).await;
    assert_eq!(push["type"], "hid-led-status");
    let inner: serde_json::Value = serde_json::from_str(push["data"].as_str().unwrap()).unwrap();
    assert_eq!(inner["capsLock"], true);
    let state = sim.wait_for(|m| !m.clicks().is_empty()).await;
    assert!(state.screen_text().ends_with("login: A"));
    assert_eq!(state.pointer(), (1919, 1079));
    let reports = sim.hid_reports();
    assert_eq!(reports.len(), 5, "{reports:?}");
}

#[tokio::test]
async fn disconnecting_with_keys_held_releases_them() {
    let sim = start(FirmwareVersion::V2_5_0).await;
    let t = login(&sim).await;
    let mut ws = connect(&sim, &t).await;
    ws.send(Message::Binary(vec![1, 2, 0, 0x04, 0, 0, 0, 0, 0].into()))
        .await
        .unwrap();
    ws.send(Message::Binary(vec![2, 1, 5, 5, 0].into()))
        .await
        .unwrap();
    ws.close(None).await.unwrap();
    let mut rx = sim.watch_machine();
    // The click is recorded when the button goes down; the release comes from the
    // server once the socket is gone, after the keyboard release.
    rx.wait_for(|m| m.clicks().len() == 1 && m.buttons().bits() == 0)
        .await
        .unwrap();
    let reports = sim.hid_reports();
    let released = reports
        .iter()
        .any(|r| matches!(r, HidReport::Keyboard(k) if k.is_release()));
    assert!(released, "{reports:?}");
}

#[tokio::test]
async fn legacy_firmware_reads_json_arrays_and_ignores_binary() {
    let sim = start(FirmwareVersion::V2_3_1).await;
    let t = login(&sim).await;
    let mut ws = connect(&sim, &t).await;
    ws.send(Message::Binary(vec![1, 0, 0, 0x04, 0, 0, 0, 0, 0].into()))
        .await
        .unwrap();
    ws.send(Message::Text("[1,11,0,2,0,0]".into()))
        .await
        .unwrap();
    ws.send(Message::Text("[1,0,0,0,0,0]".into()))
        .await
        .unwrap();
    ws.send(Message::Text("[2,1,1,0,0]".into())).await.unwrap();
    let state = sim.wait_for(|m| !m.clicks().is_empty()).await;
    assert!(
        state.screen_text().ends_with("login: H"),
        "{}",
        state.screen_text()
    );
}

#[tokio::test]
async fn revoked_sessions_close_with_4401_on_2_5_1() {
    let sim = start(FirmwareVersion::V2_5_1).await;
    let t = login(&sim).await;
    let mut ws = connect(&sim, &t).await;
    next_text(&mut ws).await;
    next_text(&mut ws).await;
    sim.revoke_sessions("admin");
    loop {
        match ws.next().await {
            Some(Ok(Message::Close(Some(frame)))) => {
                assert_eq!(frame.code, CloseCode::from(4401));
                assert_eq!(frame.reason.as_str(), "session expired or revoked");
                break;
            }
            Some(Ok(_)) => {}
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn idle_sockets_are_closed_after_the_scaled_deadline() {
    let sim = start(FirmwareVersion::V2_5_0).await;
    let t = login(&sim).await;
    let mut ws = connect(&sim, &t).await;
    // 90 s at the fast scale is 90 ms: the stream ends without any input from us.
    while let Some(Ok(_)) = ws.next().await {}
}

#[tokio::test]
async fn the_pro_socket_takes_binary_frames_and_pushes_nothing() {
    let sim = crate::support::fast()
        .hardware(nanokvm_sim::Hardware::Pro)
        .start()
        .await
        .unwrap();
    // A loopback client needs no session on the Pro: any cookie will do.
    let mut ws = connect(&sim, "none").await;
    for f in [
        [1u8, 0, 0, 0x04, 0, 0, 0, 0, 0],
        [1, 0, 0, 0, 0, 0, 0, 0, 0],
    ] {
        ws.send(Message::Binary(f.to_vec().into())).await.unwrap();
    }
    sim.wait_for(|m| m.screen_text().ends_with("login: a"))
        .await;
    // The frames were read, so any greeting would have been sent before them: there is
    // none, and what follows the close is no status push.
    ws.send(Message::Close(None)).await.unwrap();
    if let Some(Ok(message)) = ws.next().await {
        assert!(
            matches!(message, Message::Close(_)),
            "unexpected {message:?}"
        );
    }
}
