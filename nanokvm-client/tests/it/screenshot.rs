//! Screenshots: the first MJPEG part by its Content-Length, and the no-frame timeout.

use std::time::Duration;

use wiremock::matchers::{header, method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::support::{TOKEN, client, device};

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

#[tokio::test]
async fn the_first_part_is_the_screenshot() {
    let server = device("2.5.0", "Beta").await;
    // The first JPEG contains an end-of-image marker early, as an embedded thumbnail does.
    let first = [0xFF, 0xD8, 0xFF, 0xD9, 0x11, 0x22, 0xFF, 0xD9];
    let mut body = part(&first);
    body.extend(part(&[0xFF, 0xD8, 0xFF, 0xD9]));
    Mock::given(method("GET"))
        .and(path("/api/stream/mjpeg"))
        .and(header("cookie", format!("nano-kvm-token={TOKEN}").as_str()))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "multipart/x-mixed-replace; boundary=frame")
                .set_body_bytes(body),
        )
        .expect(2)
        .mount(&server)
        .await;
    let client = client(&server);
    let jpeg = client.screenshot(Duration::from_secs(5)).await.unwrap();
    assert_eq!(jpeg, first);
    let mut frames = client.frames(Duration::from_secs(5)).await.unwrap();
    assert_eq!(
        frames
            .next_frame(Duration::from_secs(5))
            .await
            .unwrap()
            .unwrap(),
        first
    );
    assert_eq!(
        frames
            .next_frame(Duration::from_secs(5))
            .await
            .unwrap()
            .unwrap(),
        [0xFF, 0xD8, 0xFF, 0xD9]
    );
    assert_eq!(
        frames.next_frame(Duration::from_secs(5)).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn no_frame_is_a_timeout() {
    let server = device("2.5.0", "Beta").await;
    Mock::given(method("GET"))
        .and(path("/api/stream/mjpeg"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(10)))
        .mount(&server)
        .await;
    let err = client(&server)
        .screenshot(Duration::from_millis(200))
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
}

#[tokio::test]
async fn a_non_multipart_answer_is_a_decode_error() {
    let server = device("2.5.0", "Beta").await;
    Mock::given(method("GET"))
        .and(path("/api/stream/mjpeg"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>"))
        .mount(&server)
        .await;
    let err = client(&server)
        .screenshot(Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(err.is_decode(), "{err:?}");
}
