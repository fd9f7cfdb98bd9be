//! Images from the network and from the operator's directory, progress notifications,
//! and the policy explained to the agent.

use std::net::SocketAddr;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::support::{Rig, TestClient, allow_all, text};

/// A minimal ISO-9660 image: the `CD001` signature of the primary volume descriptor.
fn iso() -> Vec<u8> {
    let mut image = vec![0u8; 0x9000];
    image[0x8001..0x8006].copy_from_slice(b"CD001");
    image
}

/// An HTTP server on 127.0.0.1 that answers every request with `body`.
async fn origin(body: Vec<u8>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let body = body.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tcp.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: \
                     application/octet-stream\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = tcp.write_all(head.as_bytes()).await;
                if !request.starts_with(b"HEAD") {
                    let _ = tcp.write_all(&body).await;
                }
            });
        }
    });
    addr
}

async fn images(rig: &Rig) -> Vec<Value> {
    let r = rig.call("nanokvm_list_images", json!({})).await;
    r.structured_content.expect("json")["images"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn downloads_come_only_from_hosts_the_operator_allows() {
    let addr = origin(iso()).await;
    // Off by default: the device must not fetch whatever URL an agent names.
    let rig = Rig::start(Some(allow_all()), TestClient::plain()).await;
    let url = format!("http://{addr}/images/tiny.iso");
    let r = rig.call("nanokvm_download_iso", json!({"url": url})).await;
    assert_eq!(r.is_error, Some(true));
    assert!(text(&r).starts_with("[POLICY DENIED]"), "{}", text(&r));
    assert!(text(&r).contains("downloads are off"), "{}", text(&r));
    assert!(!images(&rig).await.contains(&json!("/data/tiny.iso")));

    let rig = Rig::start_with(Some(allow_all()), TestClient::plain(), |d| {
        d.download_hosts = vec!["127.0.0.1".to_owned()];
    })
    .await;
    let r = rig
        .call(
            "nanokvm_download_iso",
            json!({"url": "http://example.org/tiny.iso"}),
        )
        .await;
    assert!(
        text(&r).contains("not one the operator allows"),
        "{}",
        text(&r)
    );
    for bad in [
        json!({"url": "ftp://127.0.0.1/tiny.iso"}),
        json!({"url": "http://user:pw@127.0.0.1/tiny.iso"}),
        json!({"url": "http://127.0.0.1/"}),
        json!({"url": url, "sha256": "abc"}),
    ] {
        let r = rig.call("nanokvm_download_iso", bad.clone()).await;
        assert_eq!(r.is_error, Some(true), "{bad}");
        assert!(
            text(&r).contains("invalid arguments"),
            "{bad}: {}",
            text(&r)
        );
        assert!(
            !text(&r).contains("pw@"),
            "credentials are not echoed: {}",
            text(&r)
        );
    }
    let r = rig.call("nanokvm_download_iso", json!({"url": url})).await;
    assert_ne!(r.is_error, Some(true), "{}", text(&r));
    let out = r.structured_content.expect("json");
    assert_eq!(out["file"], "/data/tiny.iso");
    assert!(images(&rig).await.contains(&json!("/data/tiny.iso")));
    let r = rig
        .call("nanokvm_mount_iso", json!({"file": "/data/tiny.iso"}))
        .await;
    assert_ne!(r.is_error, Some(true), "{}", text(&r));
}

#[tokio::test]
async fn uploads_come_only_from_the_upload_directory() {
    let outside = tempfile::tempdir().unwrap();
    let dir = outside.path().join("images");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("mine.iso"), iso()).unwrap();
    std::fs::write(outside.path().join("secret.iso"), iso()).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(outside.path().join("secret.iso"), dir.join("link.iso")).unwrap();
    let upload_dir = dir.clone();
    let rig = Rig::start_with(Some(allow_all()), TestClient::plain(), move |d| {
        d.upload_dir = Some(upload_dir);
    })
    .await;
    for (path, why) in [
        ("../secret.iso", "invalid arguments"),
        ("link.iso", "outside the upload directory"),
        ("missing.iso", "cannot be read"),
    ] {
        let r = rig.call("nanokvm_upload_iso", json!({"path": path})).await;
        assert_eq!(r.is_error, Some(true), "{path}");
        assert!(text(&r).contains(why), "{path}: {}", text(&r));
    }
    let absolute = outside.path().join("secret.iso");
    let r = rig
        .call("nanokvm_upload_iso", json!({"path": absolute}))
        .await;
    assert!(
        text(&r).contains("outside the upload directory"),
        "{}",
        text(&r)
    );
    assert!(
        images(&rig).await.is_empty() || !images(&rig).await.contains(&json!("/data/secret.iso"))
    );

    let r = rig
        .call_with_progress("nanokvm_upload_iso", json!({"path": "mine.iso"}))
        .await;
    assert_ne!(r.is_error, Some(true), "{}", text(&r));
    assert_eq!(
        r.structured_content.expect("json")["uploaded"],
        "/data/mine.iso"
    );
    assert!(images(&rig).await.contains(&json!("/data/mine.iso")));
    let progress = rig.handler.progress.lock().unwrap().clone();
    let last = progress.last().expect("upload progress was reported");
    assert_eq!(
        Some(last.0),
        last.1,
        "the last report is the whole file: {progress:?}"
    );
}

#[tokio::test]
async fn long_typing_reports_progress_in_order() {
    let rig = Rig::start(Some(allow_all()), TestClient::plain()).await;
    let text_to_type = "progress ".repeat(30);
    let r = rig
        .call_with_progress(
            "nanokvm_type_text",
            json!({"text": text_to_type, "delay_ms": 0}),
        )
        .await;
    assert_ne!(r.is_error, Some(true), "{}", text(&r));
    let progress = rig.handler.progress.lock().unwrap().clone();
    assert!(progress.len() >= 2, "{progress:?}");
    assert!(progress.windows(2).all(|w| w[0].0 < w[1].0), "{progress:?}");
    let last = progress.last().unwrap();
    assert_eq!(Some(last.0), last.1, "{progress:?}");
    // A short call asked for progress sends none.
    rig.handler.progress.lock().unwrap().clear();
    rig.call_with_progress("nanokvm_type_text", json!({"text": "x", "delay_ms": 0}))
        .await;
    assert!(rig.handler.progress.lock().unwrap().is_empty());
}

#[tokio::test]
async fn the_agent_can_ask_what_the_policy_lets_it_do() {
    let policy = json!({
        "version": "1",
        "default": "allow",
        "hide": ["nanokvm_reset_hid"],
        "tools": {
            "nanokvm_power": {"action": "require_approval"},
            "nanokvm_tap": {"limits": [{"counter": "taps", "window": "minute", "max": 5, "scope": "grant"}]},
            "nanokvm_delete_iso": {"action": "deny", "reason": "images stay"},
            "nanokvm_type_text": {"deny_if": [{"path": "args.text", "op": "regex", "value": "shutdown"}]}
        }
    });
    // The taps are counted in the clock's minute, which must not turn halfway.
    crate::support::clear_of_minute_turn(std::time::Duration::from_secs(10)).await;
    let rig = Rig::start(Some(policy), TestClient::plain()).await;
    let all = rig.call("nanokvm_policy_explain", json!({})).await;
    assert_ne!(all.is_error, Some(true), "{}", text(&all));
    let all = all.structured_content.expect("json");
    let tools = all["tools"].as_array().expect("tools");
    let access = |name: &str| {
        tools
            .iter()
            .find(|t| t["tool"] == name)
            .map(|t| t["access"].clone())
    };
    assert_eq!(
        access("nanokvm_reset_hid"),
        None,
        "hidden tools stay hidden"
    );
    assert_eq!(access("nanokvm_power"), Some(json!("approval")));
    assert_eq!(access("nanokvm_delete_iso"), Some(json!("denied")));
    assert_eq!(access("nanokvm_type_text"), Some(json!("conditional")));
    assert_eq!(access("nanokvm_info"), Some(json!("allowed")));

    let tapped = rig.call("nanokvm_tap", json!({"x": 10, "y": 10})).await;
    assert_ne!(tapped.is_error, Some(true), "{}", text(&tapped));
    let tap = rig
        .call(
            "nanokvm_policy_explain",
            json!({"tool": "nanokvm_tap", "arguments": {"x": 5, "y": 5}}),
        )
        .await
        .structured_content
        .expect("json");
    assert_eq!(tap["tool"]["limits"][0]["counter"], "taps");
    assert_eq!(tap["tool"]["limits"][0]["used"], 1);
    assert_eq!(tap["tool"]["limits"][0]["remaining"], 4);
    assert_eq!(tap["call"]["verdict"], "allow");
    // Explaining costs nothing and runs nothing.
    let again = rig
        .call(
            "nanokvm_policy_explain",
            json!({"tool": "nanokvm_tap", "arguments": {"x": 5, "y": 5}}),
        )
        .await
        .structured_content
        .expect("json");
    assert_eq!(again["tool"]["limits"][0]["used"], 1);

    let typed = rig
        .call(
            "nanokvm_policy_explain",
            json!({"tool": "nanokvm_type_text", "arguments": {"text": "sudo shutdown now"}}),
        )
        .await
        .structured_content
        .expect("json");
    assert_eq!(typed["call"]["verdict"], "deny", "{typed}");
    assert!(!rig.sim.machine().screen_text().contains("shutdown"));
    let bad = rig
        .call(
            "nanokvm_policy_explain",
            json!({"tool": "nanokvm_tap", "arguments": {"x": -1}}),
        )
        .await
        .structured_content
        .expect("json");
    assert_eq!(bad["call"]["verdict"], "invalid_arguments", "{bad}");
    let hidden = rig
        .call(
            "nanokvm_policy_explain",
            json!({"tool": "nanokvm_reset_hid"}),
        )
        .await
        .structured_content
        .expect("json");
    assert!(
        hidden["error"]
            .as_str()
            .unwrap_or_default()
            .contains("no tool"),
        "{hidden}"
    );
}
