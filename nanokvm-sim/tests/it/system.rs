//! The housekeeping routes that need more than one request to check: user scripts
//! uploaded as multipart forms, and the web terminal's WebSocket.

use futures_util::StreamExt;
use nanokvm_sim::FirmwareVersion;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::support::{login, raw, request, start};
use crate::upload::{Part, multipart};

async fn upload_script(sim: &nanokvm_sim::Simulator, t: &str, name: &str) -> String {
    let body = multipart(&[Part {
        name: "file",
        file: Some(name),
        data: b"#!/bin/sh\necho hi\n",
    }]);
    let mut bytes = format!(
        "POST /api/vm/script/upload HTTP/1.1\r\nHost: kvm\r\nConnection: close\r\n\
Cookie: nano-kvm-token={t}\r\nContent-Type: multipart/form-data; boundary=BOUNDARY\r\n\
Content-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    bytes.extend_from_slice(&body);
    raw(sim.addr(), &bytes).await.body
}

#[tokio::test]
async fn scripts_are_stored_listed_and_deleted_but_never_run() {
    let sim = start(FirmwareVersion::V2_5_1).await;
    let t = login(&sim).await;
    assert_eq!(
        upload_script(&sim, &t, "hello.sh").await,
        r#"{"code":0,"msg":"success","data":{"file":"hello.sh"}}"#
    );
    assert_eq!(
        upload_script(&sim, &t, "notes.txt").await,
        r#"{"code":-2,"msg":"invalid arguments","data":null}"#
    );
    // The file name loses its directories, as Go's multipart reader does.
    assert_eq!(
        upload_script(&sim, &t, "../../etc/evil.py").await,
        r#"{"code":0,"msg":"success","data":{"file":"evil.py"}}"#
    );
    let r = request(sim.addr(), "GET", "/api/vm/script", Some(&t), None).await;
    assert_eq!(
        r.body,
        r#"{"code":0,"msg":"success","data":{"files":["evil.py","hello.sh"]}}"#
    );
    let r = request(
        sim.addr(),
        "POST",
        "/api/vm/script/run",
        Some(&t),
        Some(r#"{"name":"hello.sh","type":"foreground"}"#),
    )
    .await;
    assert_eq!(
        r.body,
        r#"{"code":-2,"msg":"run script failed","data":null}"#
    );
    for answer in [
        r#"{"code":0,"msg":"success","data":null}"#,
        r#"{"code":-3,"msg":"delete failed","data":null}"#,
    ] {
        let r = request(
            sim.addr(),
            "DELETE",
            "/api/vm/script",
            Some(&t),
            Some(r#"{"name":"hello.sh"}"#),
        )
        .await;
        assert_eq!(r.body, answer);
    }
    // Nothing was written to the host, inside or outside the data directory.
    assert!(std::fs::read_dir(sim.data_dir()).unwrap().next().is_none());
}

#[tokio::test]
async fn the_terminal_upgrades_and_closes_for_want_of_a_shell() {
    let sim = start(FirmwareVersion::V2_5_1).await;
    let t = login(&sim).await;
    let tcp = tokio::net::TcpStream::connect(sim.addr()).await.unwrap();
    let mut req = format!("ws://{}/api/vm/terminal", sim.addr())
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("cookie", format!("nano-kvm-token={t}").parse().unwrap());
    let (mut ws, response) = tokio_tungstenite::client_async(req, tcp).await.unwrap();
    assert_eq!(response.status(), 101);
    let next = ws.next().await;
    assert!(
        !matches!(next, Some(Ok(Message::Text(_) | Message::Binary(_)))),
        "{next:?}"
    );
    // A foreign origin is refused before the upgrade on 2.5.1.
    let tcp = tokio::net::TcpStream::connect(sim.addr()).await.unwrap();
    let mut req = format!("ws://{}/api/vm/terminal", sim.addr())
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("cookie", format!("nano-kvm-token={t}").parse().unwrap());
    req.headers_mut()
        .insert("origin", "http://evil.example".parse().unwrap());
    match tokio_tungstenite::client_async(req, tcp).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => assert_eq!(r.status(), 403),
        other => panic!("expected a 403, got {:?}", other.map(|(_, r)| r.status())),
    }
}
