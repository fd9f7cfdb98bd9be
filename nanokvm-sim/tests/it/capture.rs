//! The HDMI capture: the `resolution` screen setting, the idle timer that MJPEG viewers
//! hold off, and the `capture-status` pushes over `/api/ws`.

use nanokvm_sim::{FirmwareVersion, Simulator, TimeScale};

use crate::stream::{Mjpeg, Picture, post, small, ticks_after};
use crate::support::{fast, login, request};
use crate::ws::{connect, next_text};

/// A baseline JPEG's size, from its SOF0 segment.
fn jpeg_size(jpeg: &[u8]) -> (u32, u32) {
    let at = jpeg
        .windows(2)
        .position(|w| w == [0xFF, 0xC0])
        .expect("a baseline frame header");
    let be = |i: usize| u32::from(u16::from_be_bytes([jpeg[i], jpeg[i + 1]]));
    (be(at + 7), be(at + 5))
}

/// Reads parts until one has the given size (the setting applies from the next
/// capture), and decodes that one fully.
async fn frame_of_size(s: &mut Mjpeg, width: u32, height: u32) -> bool {
    for _ in 0..200 {
        let Some(jpeg) = s.part().await else {
            return false;
        };
        if jpeg_size(&jpeg) == (width, height) {
            let p = Picture::decode(&jpeg);
            return (p.width, p.height) == (width, height);
        }
    }
    false
}

#[tokio::test]
async fn the_resolution_setting_scales_the_captured_frames() {
    let sim = small().await;
    let t = login(&sim).await;
    let mut s = Mjpeg::open(sim.addr(), "/api/stream/mjpeg", &t).await;
    assert_eq!(s.head().await.status, 200);
    assert!(frame_of_size(&mut s, 320, 200).await, "native size first");
    post(
        &sim,
        &t,
        "/api/vm/screen",
        r#"{"type":"resolution","value":480}"#,
    )
    .await;
    assert!(frame_of_size(&mut s, 640, 480).await);
    assert_eq!(
        (sim.screenshot().width(), sim.screenshot().height()),
        (640, 480)
    );
    // A height outside the firmware's table is accepted and ignored.
    post(
        &sim,
        &t,
        "/api/vm/screen",
        r#"{"type":"resolution","value":333}"#,
    )
    .await;
    assert_eq!(sim.screenshot().height(), 480);
    // Go converts the value to uint16, so 65536 + 600 picks 600.
    post(
        &sim,
        &t,
        "/api/vm/screen",
        r#"{"type":"resolution","value":66136}"#,
    )
    .await;
    assert!(frame_of_size(&mut s, 800, 600).await);
    post(
        &sim,
        &t,
        "/api/vm/screen",
        r#"{"type":"resolution","value":0}"#,
    )
    .await;
    assert!(frame_of_size(&mut s, 320, 200).await);
}

#[tokio::test]
async fn the_idle_timer_stops_the_capture_only_while_nobody_watches() {
    let sim = small().await;
    let t = login(&sim).await;
    assert!(sim.capture_running());
    post(&sim, &t, "/api/vm/hdmi/timeout", r#"{"minutes":1}"#).await;
    // One minute, scaled, without a viewer: the capture switches off.
    sim.wait_for_capture(false).await;
    let r = request(sim.addr(), "GET", "/api/vm/hdmi", Some(&t), None).await;
    assert_eq!(
        r.body,
        r#"{"code":0,"msg":"success","data":{"enabled":true,"signal":true,"idleTimeout":1}}"#
    );
    // A viewer switches it on again and gets frames after the warm-up.
    let mut s = Mjpeg::open(sim.addr(), "/api/stream/mjpeg", &t).await;
    sim.wait_for_capture(true).await;
    assert_eq!(s.head().await.status, 200);
    assert!(s.part().await.is_some());
    // Many timeouts' worth of ticks later it still runs: the viewer counts.
    ticks_after(&sim, 40).await;
    assert!(sim.capture_running());
    drop(s);
    sim.wait_for_capture(false).await;
    // Setting the timeout again resumes a capture that the timer stopped.
    post(&sim, &t, "/api/vm/hdmi/timeout", r#"{"minutes":0}"#).await;
    assert!(sim.capture_running());
    // Disabling HDMI switches the capture off; enabling switches it on.
    post(&sim, &t, "/api/vm/hdmi/disable", "").await;
    assert!(!sim.capture_running());
    post(&sim, &t, "/api/vm/hdmi/reset", "").await;
    assert!(sim.capture_running());
}

fn inner(push: &serde_json::Value) -> serde_json::Value {
    serde_json::from_str(push["data"].as_str().unwrap()).unwrap()
}

/// The capture-status object without its timestamp, which is checked separately.
fn status_without_time(push: &serde_json::Value) -> String {
    assert_eq!(push["type"], "capture-status");
    let mut v = inner(push);
    let at = v["updatedAt"].as_str().unwrap().to_owned();
    assert!(at.ends_with('Z') && at.contains('T'), "{at}");
    v.as_object_mut().unwrap().remove("updatedAt");
    v.to_string()
}

#[tokio::test]
async fn capture_status_is_pushed_when_it_changes() {
    // Slower than the usual fast scale, so the socket's scaled 90 s idle limit (4.5 s
    // here) cannot close it while the test waits for pushes.
    let sim = Simulator::builder()
        .time_scale(TimeScale::new(0.05))
        .resolution(320, 200)
        .start()
        .await
        .unwrap();
    let t = login(&sim).await;
    let mut ws = connect(&sim, &t).await;
    // Nothing has been captured yet: no capture-status in the greeting.
    assert_eq!(next_text(&mut ws).await["type"], "h264-mode-status");
    assert_eq!(next_text(&mut ws).await["type"], "hid-led-status");
    let mut s = Mjpeg::open(sim.addr(), "/api/stream/mjpeg", &t).await;
    assert_eq!(s.head().await.status, 200);
    assert_eq!(
        status_without_time(&next_text(&mut ws).await),
        r#"{"message":"","mode":"mjpeg","ok":true,"result":0,"severity":""}"#
    );
    sim.set_no_signal(true);
    assert_eq!(
        status_without_time(&next_text(&mut ws).await),
        r#"{"message":"No image captured","mode":"mjpeg","ok":false,"result":-1,"severity":"error"}"#
    );
    sim.set_no_signal(false);
    let ok = next_text(&mut ws).await;
    assert_eq!(inner(&ok)["ok"], true);
    assert!(s.part().await.is_some());
    // The raw text keeps the firmware's field order.
    let mut late = connect(&sim, &t).await;
    let greeting = next_text(&mut late).await;
    let text = greeting["data"].as_str().unwrap();
    assert!(
        text.starts_with(
            r#"{"ok":true,"result":0,"message":"","mode":"mjpeg","severity":"","updatedAt":""#
        ),
        "{text}"
    );
    assert_eq!(next_text(&mut late).await["type"], "h264-mode-status");
}

#[tokio::test]
async fn legacy_firmware_pushes_nothing() {
    let sim = fast()
        .firmware(FirmwareVersion::V2_3_1)
        .resolution(320, 200)
        .start()
        .await
        .unwrap();
    let t = login(&sim).await;
    let mut s = Mjpeg::open(sim.addr(), "/api/stream/mjpeg", &t).await;
    assert_eq!(s.head().await.status, 200);
    assert!(s.part().await.is_some());
    let mut ws = connect(&sim, &t).await;
    // A keyboard report in the legacy format is accepted; the first thing the socket
    // could deliver is its close, not a push.
    use futures_util::{SinkExt, StreamExt};
    ws.send(tokio_tungstenite::tungstenite::Message::Text(
        "[1,4,0,0,0,0]".into(),
    ))
    .await
    .unwrap();
    sim.wait_for(|m| m.screen_text().ends_with("a")).await;
    sim.drop_websockets();
    let next = ws.next().await;
    assert!(
        !matches!(
            next,
            Some(Ok(tokio_tungstenite::tungstenite::Message::Text(_)))
        ),
        "{next:?}"
    );
}
