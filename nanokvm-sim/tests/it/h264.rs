//! `/api/stream/h264/direct`: accepted and counted as a viewer, pinged, limited to
//! 64-byte control messages, and without frames (the simulator has no H.264 encoder).

use futures_util::{SinkExt, StreamExt};
use nanokvm_sim::{FirmwareVersion, Simulator};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::support::{login, start};
use crate::ws::{Ws, connect, next_text};

async fn open_direct(sim: &Simulator, token: &str) -> Ws {
    let tcp = tokio::net::TcpStream::connect(sim.addr()).await.unwrap();
    let mut req = format!("ws://{}/api/stream/h264/direct?flow=4", sim.addr())
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("cookie", format!("nano-kvm-token={token}").parse().unwrap());
    let (ws, response) = tokio_tungstenite::client_async(req, tcp).await.unwrap();
    assert_eq!(response.status(), 101);
    ws
}

fn inner(push: &serde_json::Value) -> serde_json::Value {
    serde_json::from_str(push["data"].as_str().unwrap()).unwrap()
}

#[tokio::test]
async fn a_direct_viewer_is_counted_pinged_and_gets_no_frames() {
    let sim = start(FirmwareVersion::V2_5_1).await;
    let t = login(&sim).await;
    let mut before = connect(&sim, &t).await;
    let first = inner(&next_text(&mut before).await);
    assert_eq!(
        (first["direct"].as_i64(), first["revision"].as_i64()),
        (Some(0), Some(0))
    );
    drop(before);

    let mut direct = open_direct(&sim, &t).await;
    // The server pings; nothing else arrives.
    let first_message = direct.next().await.unwrap().unwrap();
    assert!(
        matches!(first_message, Message::Ping(_)),
        "{first_message:?}"
    );
    let mut ws = connect(&sim, &t).await;
    let capture = next_text(&mut ws).await;
    assert_eq!(capture["type"], "capture-status");
    let status = inner(&capture);
    assert_eq!(
        (
            status["mode"].as_str(),
            status["result"].as_i64(),
            status["message"].as_str()
        ),
        (Some("direct"), Some(-2), Some("Encoder error"))
    );
    let modes = next_text(&mut ws).await;
    assert_eq!(modes["type"], "h264-mode-status");
    let modes = inner(&modes);
    assert_eq!(modes["direct"], 1);
    assert_eq!(modes["revision"], 1);
    assert_eq!(modes["mixed"], false);
    assert_eq!(modes["generation"], first["generation"]);

    // A control message over 64 bytes closes the socket with 1009.
    direct
        .send(Message::Binary(vec![2u8; 65].into()))
        .await
        .unwrap();
    let close = loop {
        match direct.next().await {
            Some(Ok(Message::Close(frame))) => break frame,
            Some(Ok(Message::Ping(_))) => {}
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(close.map(|f| f.code), Some(CloseCode::Size));
    // Once it has gone, the count drops.
    let mut after = connect(&sim, &t).await;
    let modes = loop {
        let push = next_text(&mut after).await;
        if push["type"] == "h264-mode-status" {
            break inner(&push);
        }
    };
    assert_eq!(
        (modes["direct"].as_i64(), modes["revision"].as_i64()),
        (Some(0), Some(2))
    );
}
