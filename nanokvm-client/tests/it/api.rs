//! Exact request shapes and decoding for each API area.

use std::time::Duration;

use nanokvm_client::api::hdmi::StreamSetting;
use nanokvm_client::api::hid::{HidMode, PasteLayout, SkippedChar};
use nanokvm_client::api::power::PowerButton;
use nanokvm_client::api::storage::{DownloadStatus, MountMode};
use serde_json::{Value, json};
use wiremock::Mock;
use wiremock::matchers::{method, path};

use crate::support::{client, device, expect, fail, ok, requests_to};

#[tokio::test]
async fn device_area() {
    let server = device("2.5.1", "PCIE").await;
    expect(
        &server,
        "POST",
        "/api/vm/hostname",
        Some(json!({"hostname": "lab"})),
        Value::Null,
    )
    .await;
    expect(
        &server,
        "GET",
        "/api/auth/account",
        None,
        json!({"username": "admin", "role": "admin"}),
    )
    .await;
    expect(
        &server,
        "GET",
        "/api/auth/users",
        None,
        json!({"users": [
            {"username": "admin", "role": "admin", "enabled": true, "systemAccount": true},
            {"username": "bob", "role": "user", "enabled": false}
        ]}),
    )
    .await;
    expect(
        &server,
        "PUT",
        "/api/auth/users/bob",
        Some(json!({"enabled": true})),
        Value::Null,
    )
    .await;
    let client = client(&server);
    let info = client.device().info().await.unwrap();
    assert_eq!(info.interfaces[0].address, "192.168.1.50");
    assert_eq!(info.mdns.as_deref(), Some("kvm-abcd.local"));
    assert_eq!(
        client.device().hardware().await.unwrap(),
        nanokvm_client::Hardware::Pcie
    );
    client.device().set_hostname("lab").await.unwrap();
    let account = client.device().account().await.unwrap();
    assert_eq!(account.role, Some(nanokvm_client::api::device::Role::Admin));
    let users = client.device().users().await.unwrap();
    assert_eq!(users.len(), 2);
    assert!(users[0].system_account && !users[1].enabled);
    let update = nanokvm_client::api::device::UserUpdate {
        role: None,
        enabled: Some(true),
    };
    client.device().update_user("bob", &update).await.unwrap();
}

#[tokio::test]
async fn user_management_needs_roles() {
    let server = device("2.5.0", "PCIE").await;
    Mock::given(method("GET"))
        .and(path("/api/auth/users"))
        .respond_with(ok(Value::Null))
        .expect(0)
        .mount(&server)
        .await;
    let err = client(&server).device().users().await.unwrap_err();
    assert!(err.is_not_supported());
}

#[tokio::test]
async fn password_change_shape_depends_on_the_version() {
    use nanokvm_client::SecretString;
    let server = device("2.5.1", "PCIE").await;
    Mock::given(method("POST"))
        .and(path("/api/auth/password"))
        .respond_with(ok(Value::Null))
        .mount(&server)
        .await;
    let client = client(&server);
    client
        .device()
        .change_password(
            &SecretString::from("old-password"),
            &SecretString::from("new-password"),
        )
        .await
        .unwrap();
    let sent = crate::support::body(&requests_to(&server, "/api/auth/password").await[0]);
    assert_eq!(
        crate::support::decrypt(sent["currentPassword"].as_str().unwrap()).as_deref(),
        Some("old-password")
    );
    assert_eq!(
        crate::support::decrypt(sent["password"].as_str().unwrap()).as_deref(),
        Some("new-password")
    );

    let old = device("2.5.0", "PCIE").await;
    Mock::given(method("POST"))
        .and(path("/api/auth/password"))
        .respond_with(ok(Value::Null))
        .mount(&old)
        .await;
    expect(
        &old,
        "GET",
        "/api/auth/account",
        None,
        json!({"username": "admin"}),
    )
    .await;
    crate::support::client(&old)
        .device()
        .change_password(&SecretString::from("x"), &SecretString::from("short"))
        .await
        .unwrap();
    let sent = crate::support::body(&requests_to(&old, "/api/auth/password").await[0]);
    assert_eq!(sent["username"], "admin");
    assert_eq!(
        crate::support::decrypt(sent["password"].as_str().unwrap()).as_deref(),
        Some("short")
    );
}

#[tokio::test]
async fn power_area() {
    let server = device("2.5.0", "Alpha").await;
    expect(
        &server,
        "POST",
        "/api/vm/gpio",
        Some(json!({"type": "power", "duration": 800})),
        Value::Null,
    )
    .await;
    expect(
        &server,
        "POST",
        "/api/vm/gpio",
        Some(json!({"type": "reset", "duration": 250})),
        Value::Null,
    )
    .await;
    expect(
        &server,
        "GET",
        "/api/vm/gpio",
        None,
        json!({"pwr": false, "hdd": true}),
    )
    .await;
    let client = client(&server);
    client.power().press_power().await.unwrap();
    client
        .power()
        .press(PowerButton::Reset, Duration::from_millis(250))
        .await
        .unwrap();
    let leds = client.power().leds().await.unwrap();
    assert_eq!((leds.power, leds.hdd), (false, Some(true)));
}

#[tokio::test]
async fn device_errors_carry_code_message_and_endpoint() {
    let server = device("2.5.0", "Beta").await;
    Mock::given(method("POST"))
        .and(path("/api/vm/gpio"))
        .respond_with(fail(-3, "operation failed: busy"))
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server).power().press_power().await.unwrap_err();
    match err {
        nanokvm_client::Error::Device {
            code,
            message,
            endpoint,
        } => {
            assert_eq!(
                (code, message.as_str(), endpoint.as_str()),
                (-3, "operation failed: busy", "POST /api/vm/gpio")
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn hdmi_fields_follow_the_version() {
    let server = device("2.5.1", "PCIE").await;
    expect(
        &server,
        "GET",
        "/api/vm/hdmi",
        None,
        json!({"enabled": true, "signal": false, "idleTimeout": 15}),
    )
    .await;
    expect(
        &server,
        "POST",
        "/api/vm/hdmi/timeout",
        Some(json!({"minutes": 30})),
        Value::Null,
    )
    .await;
    expect(
        &server,
        "POST",
        "/api/vm/screen",
        Some(json!({"type": "fps", "value": 25})),
        Value::Null,
    )
    .await;
    let client = client(&server);
    let state = client.hdmi().state().await.unwrap();
    assert_eq!(state.signal, Some(false));
    assert_eq!(state.idle_timeout, Some(Duration::from_secs(900)));
    client
        .hdmi()
        .set_idle_timeout(Duration::from_secs(1800))
        .await
        .unwrap();
    client
        .hdmi()
        .set_stream(StreamSetting::Fps(25))
        .await
        .unwrap();

    let old = device("2.4.3", "PCIE").await;
    expect(&old, "GET", "/api/vm/hdmi", None, json!({"enabled": false})).await;
    let client = crate::support::client(&old);
    let state = client.hdmi().state().await.unwrap();
    assert_eq!(
        (state.enabled, state.signal, state.idle_timeout),
        (false, None, None)
    );
    assert!(
        client
            .hdmi()
            .set_idle_timeout(Duration::from_secs(60))
            .await
            .unwrap_err()
            .is_not_supported()
    );
}

#[tokio::test]
async fn paste_sends_content_and_layout_and_checks_limits_first() {
    let server = device("2.5.0", "Beta").await;
    expect(
        &server,
        "POST",
        "/api/hid/paste",
        Some(json!({"content": "Hello, World!"})),
        Value::Null,
    )
    .await;
    expect(
        &server,
        "POST",
        "/api/hid/paste",
        Some(json!({"content": "Grüße€", "langue": "de"})),
        Value::Null,
    )
    .await;
    let client = client(&server);
    let report = client
        .hid()
        .paste("Hello, World!", PasteLayout::Us)
        .await
        .unwrap();
    assert_eq!(report.typed, 13);
    let report = client.hid().paste("Grüße€", PasteLayout::De).await.unwrap();
    assert!(report.skipped.is_empty());
    let err = client
        .hid()
        .paste(&"x".repeat(834), PasteLayout::Us)
        .await
        .unwrap_err();
    assert!(err.is_invalid_input());
    assert_eq!(requests_to(&server, "/api/hid/paste").await.len(), 2);
}

#[tokio::test]
async fn paste_reports_what_the_firmware_skips() {
    let server = device("2.4.3", "Beta").await;
    expect(
        &server,
        "POST",
        "/api/hid/paste",
        Some(json!({"content": "a→b"})),
        Value::Null,
    )
    .await;
    let report = client(&server)
        .hid()
        .paste("a→b", PasteLayout::Us)
        .await
        .unwrap();
    assert_eq!(
        report.skipped,
        vec![SkippedChar {
            ch: '→', index: 1
        }]
    );
    assert_eq!(report.typed, 2);
}

#[tokio::test]
async fn keyboard_leds_and_hid_mode() {
    let server = device("2.5.0", "Beta").await;
    expect(&server, "GET", "/api/hid/leds", None, json!({"numLock": true, "capsLock": false, "scrollLock": false, "known": true, "updatedAt": "2026-08-01T10:00:00Z"})).await;
    expect(
        &server,
        "GET",
        "/api/hid/mode",
        None,
        json!({"mode": "hid-only"}),
    )
    .await;
    expect(
        &server,
        "POST",
        "/api/hid/mode",
        Some(json!({"mode": "normal"})),
        Value::Null,
    )
    .await;
    expect(
        &server,
        "GET",
        "/api/hid/shortcuts",
        None,
        json!({"shortcuts": [{"id": "u1", "keys": [{"code": "ControlLeft", "label": "Ctrl"}]}]}),
    )
    .await;
    let client = client(&server);
    let leds = client.hid().keyboard_leds().await.unwrap().unwrap();
    assert!(leds.num_lock && !leds.caps_lock);
    assert_eq!(client.hid().mode().await.unwrap(), HidMode::HidOnly);
    client.hid().set_mode(HidMode::Normal).await.unwrap();
    let shortcuts = client.hid().shortcuts().await.unwrap();
    assert_eq!(shortcuts[0].keys[0].code, "ControlLeft");
}

#[tokio::test]
async fn storage_area() {
    let server = device("2.5.0", "Beta").await;
    expect(
        &server,
        "GET",
        "/api/storage/image",
        None,
        json!({"files": null}),
    )
    .await;
    expect(
        &server,
        "POST",
        "/api/storage/image/mount",
        Some(json!({"file": "/data/a.iso", "cdrom": true})),
        Value::Null,
    )
    .await;
    expect(
        &server,
        "POST",
        "/api/storage/image/mount",
        Some(json!({"file": ""})),
        Value::Null,
    )
    .await;
    expect(
        &server,
        "GET",
        "/api/storage/image/mounted",
        None,
        json!({"file": "/data/a.iso"}),
    )
    .await;
    expect(
        &server,
        "GET",
        "/api/storage/cdrom",
        None,
        json!({"cdrom": 1}),
    )
    .await;
    expect(
        &server,
        "POST",
        "/api/storage/image/delete",
        Some(json!({"file": "/data/a.iso"})),
        Value::Null,
    )
    .await;
    expect(
        &server,
        "POST",
        "/api/download/image/cancel",
        None,
        Value::Null,
    )
    .await;
    let client = client(&server);
    assert!(client.storage().images().await.unwrap().is_empty());
    client
        .storage()
        .mount("/data/a.iso", MountMode::CdRom)
        .await
        .unwrap();
    let mounted = client.storage().mounted().await.unwrap();
    assert_eq!(
        (mounted.file.as_deref(), mounted.cdrom),
        (Some("/data/a.iso"), Some(true))
    );
    client.storage().unmount().await.unwrap();
    client.storage().delete("/data/a.iso").await.unwrap();
    assert!(
        client
            .storage()
            .delete("/etc/passwd.img")
            .await
            .unwrap_err()
            .is_invalid_input()
    );
    client.storage().cancel_download().await.unwrap();
}

#[tokio::test]
async fn downloads_are_followed_to_the_end() {
    let server = device("2.5.0", "Beta").await;
    let sum = "a".repeat(64);
    expect(
        &server,
        "POST",
        "/api/download/image",
        Some(json!({"file": "https://example.com/x.iso", "sha256sum": sum})),
        json!({"status": "in_progress", "file": "https://example.com/x.iso", "percentage": ""}),
    )
    .await;
    Mock::given(method("GET"))
        .and(path("/api/download/image/status"))
        .respond_with(ok(json!({"status": "in_progress", "file": "https://example.com/x.iso", "percentage": "50.00%"})))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/download/image/status"))
        .respond_with(ok(
            json!({"status": "checksum_failed", "file": "", "percentage": ""}),
        ))
        .mount(&server)
        .await;
    let client = client(&server);
    let started = client
        .storage()
        .download("https://example.com/x.iso", Some(&sum))
        .await
        .unwrap();
    assert!(!started.is_finished());
    let mut seen = Vec::new();
    let last = client
        .storage()
        .wait_for_download(Duration::from_millis(1), |s| seen.push(s.clone()))
        .await
        .unwrap();
    assert_eq!(last, DownloadStatus::ChecksumFailed);
    assert_eq!(seen.len(), 2);
    assert!(
        matches!(seen[0], DownloadStatus::InProgress { percentage: Some(p), .. } if (p - 50.0).abs() < 1e-9)
    );
}

#[tokio::test]
async fn uploads_are_multipart_with_progress() {
    let server = device("2.5.0", "Beta").await;
    Mock::given(method("POST"))
        .and(path("/api/download/file"))
        .respond_with(ok(json!({"status": "idle", "file": "", "percentage": ""})))
        .expect(1)
        .mount(&server)
        .await;
    let dir = std::env::temp_dir().join(format!("nanokvm-client-upload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("tiny.iso");
    std::fs::write(&file, vec![0x42u8; 100_000]).unwrap();
    let progress = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = progress.clone();
    client(&server)
        .storage()
        .upload_iso(&file, move |sent, total| {
            seen.lock().unwrap().push((sent, total))
        })
        .await
        .unwrap();
    let calls = progress.lock().unwrap().clone();
    assert_eq!(calls.last(), Some(&(100_000, 100_000)));
    let request = &requests_to(&server, "/api/download/file").await[0];
    let content_type = request
        .headers
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("multipart/form-data"));
    let text = String::from_utf8_lossy(&request.body);
    assert!(text.contains("name=\"file\"; filename=\"tiny.iso\""));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn wake_on_lan_normalizes_the_mac() {
    let server = device("2.5.0", "Beta").await;
    expect(
        &server,
        "POST",
        "/api/network/wol",
        Some(json!({"mac": "AA:BB:CC:DD:EE:FF"})),
        Value::Null,
    )
    .await;
    expect(
        &server,
        "GET",
        "/api/network/wol/mac",
        None,
        json!({"macs": ["AA:BB:CC:DD:EE:FF", "11:22:33:44:55:66 Office PC"]}),
    )
    .await;
    expect(
        &server,
        "POST",
        "/api/network/wol/mac/name",
        Some(json!({"mac": "11:22:33:44:55:66", "name": "Lab"})),
        Value::Null,
    )
    .await;
    expect(
        &server,
        "DELETE",
        "/api/network/wol/mac",
        Some(json!({"mac": "11:22:33:44:55:66"})),
        Value::Null,
    )
    .await;
    let client = client(&server);
    let mac = client
        .network()
        .wake_on_lan("aa-bb-cc-dd-ee-ff")
        .await
        .unwrap();
    assert_eq!(mac.to_string(), "AA:BB:CC:DD:EE:FF");
    let list = client.network().wol_macs().await.unwrap();
    assert_eq!(list[1].name.as_deref(), Some("Office PC"));
    client
        .network()
        .set_wol_name("112233445566", "Lab")
        .await
        .unwrap();
    client
        .network()
        .delete_wol_mac("11.22.33.44.55.66")
        .await
        .unwrap();
    assert!(
        client
            .network()
            .wake_on_lan("not-a-mac")
            .await
            .unwrap_err()
            .is_invalid_input()
    );
    assert_eq!(requests_to(&server, "/api/network/wol").await.len(), 1);
}
