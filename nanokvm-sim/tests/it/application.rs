//! `/api/application/*`: the version check against an update server (played by an
//! origin in the test), preview updates, 2.5.1's update-server setting, and the online
//! update.

use std::collections::HashMap;

use base64::Engine as _;
use nanokvm_sim::FirmwareVersion;
use sha2::{Digest, Sha512};

use crate::origin::Origin;
use crate::support::{fast, login, request, start};

fn manifest(version: &str, package: &[u8]) -> Vec<u8> {
    let sha = base64::engine::general_purpose::STANDARD.encode(Sha512::digest(package));
    format!(
        r#"{{"version":"{version}","name":"nanokvm_{version}.tar.gz","sha512":"{sha}","size":{}}}"#,
        package.len()
    )
    .into_bytes()
}

/// An update server with a stable and a preview channel, and a custom directory.
async fn update_server() -> Origin {
    let package = b"not really a tarball".to_vec();
    let mut files = HashMap::new();
    files.insert("/cdn/latest.json".to_owned(), manifest("2.6.0", &package));
    files.insert("/cdn/nanokvm_2.6.0.tar.gz".to_owned(), package.clone());
    files.insert(
        "/cdn/preview/latest.json".to_owned(),
        manifest("2.7.0", &package),
    );
    files.insert(
        "/custom/latest.json".to_owned(),
        manifest("3.0.0", &package),
    );
    files.insert(
        "/custom/nanokvm_3.0.0.tar.gz".to_owned(),
        b"tampered".to_vec(),
    );
    Origin::with_files(Vec::new(), files).await
}

async fn get(sim: &nanokvm_sim::Simulator, t: &str, path: &str) -> String {
    request(sim.addr(), "GET", path, Some(t), None).await.body
}

async fn post(sim: &nanokvm_sim::Simulator, t: &str, path: &str, body: &str) -> String {
    request(sim.addr(), "POST", path, Some(t), Some(body))
        .await
        .body
}

#[tokio::test]
async fn without_internet_only_2_5_1_fails_the_version_check() {
    let sim = start(FirmwareVersion::V2_5_1).await;
    let t = login(&sim).await;
    assert_eq!(
        get(&sim, &t, "/api/application/version").await,
        r#"{"code":-1,"msg":"failed to query latest version","data":null}"#
    );
    assert_eq!(
        post(&sim, &t, "/api/application/update", "").await,
        r#"{"code":-1,"msg":"update failed: update server is inaccessible","data":null}"#
    );
    for fw in [FirmwareVersion::V2_5_0, FirmwareVersion::V2_3_1] {
        let sim = start(fw).await;
        let t = login(&sim).await;
        assert_eq!(
            get(&sim, &t, "/api/application/version").await,
            format!(r#"{{"code":0,"msg":"success","data":{{"current":"{fw}","latest":""}}}}"#)
        );
        let r = post(&sim, &t, "/api/application/update", "").await;
        assert!(
            r.starts_with(r#"{"code":-1,"msg":"update failed: Get \"https://cdn.sipeed.com/nanokvm/latest.json?now="#),
            "{r}"
        );
    }
}

#[tokio::test]
async fn the_latest_version_comes_from_the_update_server_and_its_preview_channel() {
    let origin = update_server().await;
    for fw in crate::support::ALL {
        let sim = fast()
            .firmware(fw)
            .update_server(origin.url("/cdn"))
            .start()
            .await
            .unwrap();
        let t = login(&sim).await;
        assert_eq!(
            get(&sim, &t, "/api/application/version").await,
            format!(r#"{{"code":0,"msg":"success","data":{{"current":"{fw}","latest":"2.6.0"}}}}"#)
        );
        assert_eq!(
            get(&sim, &t, "/api/application/preview").await,
            r#"{"code":0,"msg":"success","data":{"enabled":false}}"#
        );
        assert_eq!(
            post(&sim, &t, "/api/application/preview", r#"{"enable":true}"#).await,
            r#"{"code":0,"msg":"success","data":null}"#
        );
        assert_eq!(
            get(&sim, &t, "/api/application/version").await,
            format!(r#"{{"code":0,"msg":"success","data":{{"current":"{fw}","latest":"2.7.0"}}}}"#)
        );
        assert_eq!(
            post(&sim, &t, "/api/application/preview", r#"{"enable":"yes"}"#).await,
            r#"{"code":-1,"msg":"invalid arguments","data":null}"#
        );
    }
    assert!(
        origin
            .requests()
            .iter()
            .all(|r| r.starts_with("GET /cdn/") && r.contains("latest.json?now=")),
        "{:?}",
        origin.requests()
    );
}

#[tokio::test]
async fn the_custom_update_server_of_2_5_1() {
    let origin = update_server().await;
    let sim = fast()
        .update_server(origin.url("/cdn"))
        .start()
        .await
        .unwrap();
    let t = login(&sim).await;
    let path = "/api/application/update-server";
    assert_eq!(
        get(&sim, &t, path).await,
        r#"{"code":0,"msg":"success","data":{"enabled":false,"url":"https://cdn.sipeed.com/nanokvm"}}"#
    );
    for (body, answer) in [
        ("{}", r#"{"code":-1,"msg":"invalid arguments","data":null}"#),
        (
            r#"{"enabled":"yes"}"#,
            r#"{"code":-1,"msg":"invalid arguments","data":null}"#,
        ),
        (
            r#"{"enabled":true}"#,
            r#"{"code":-2,"msg":"update server URL is required","data":null}"#,
        ),
        (
            r#"{"enabled":true,"url":"ftp://h/x"}"#,
            r#"{"code":-2,"msg":"invalid update server URL","data":null}"#,
        ),
        (
            r#"{"enabled":true,"url":"http://h/x?a=1"}"#,
            r#"{"code":-2,"msg":"update server URL must not contain a query or fragment","data":null}"#,
        ),
        (
            r#"{"enabled":true,"url":"http://h/latest.json"}"#,
            r#"{"code":-2,"msg":"enter the update server directory, not latest.json","data":null}"#,
        ),
    ] {
        assert_eq!(post(&sim, &t, path, body).await, answer, "{body}");
    }
    let custom = origin.url("/custom/");
    let trimmed = origin.url("/custom");
    assert_eq!(
        post(
            &sim,
            &t,
            path,
            &format!(r#"{{"enabled":true,"url":" {custom} "}}"#)
        )
        .await,
        format!(r#"{{"code":0,"msg":"success","data":{{"enabled":true,"url":"{trimmed}"}}}}"#)
    );
    assert_eq!(
        get(&sim, &t, "/api/application/version").await,
        r#"{"code":0,"msg":"success","data":{"current":"2.5.1","latest":"3.0.0"}}"#
    );
    // The custom package does not match its manifest's SHA-512.
    let r = post(&sim, &t, "/api/application/update", "").await;
    assert!(
        r.starts_with(r#"{"code":-1,"msg":"update failed: invalid sha512 "#),
        "{r}"
    );
    // Older firmware has no such route.
    let old = start(FirmwareVersion::V2_5_0).await;
    let t = login(&old).await;
    let r = request(old.addr(), "GET", path, Some(&t), None).await;
    assert_eq!((r.status, r.body.as_str()), (404, "404 page not found"));
}

#[tokio::test]
async fn an_online_update_takes_the_new_version_and_restarts() {
    let origin = update_server().await;
    let sim = fast()
        .update_server(origin.url("/cdn"))
        .start()
        .await
        .unwrap();
    let t = login(&sim).await;
    assert_eq!(
        post(&sim, &t, "/api/application/update", "").await,
        r#"{"code":0,"msg":"success","data":null}"#
    );
    assert!(
        origin
            .requests()
            .contains(&"GET /cdn/nanokvm_2.6.0.tar.gz".to_owned())
    );
    // The device restarts its services: the session dies, and the new version shows.
    sim.wait_for_reboots(1).await;
    let r = request(sim.addr(), "GET", "/api/vm/info", Some(&t), None).await;
    assert_eq!(r.status, 401);
    let t2 = login(&sim).await;
    let r = request(sim.addr(), "GET", "/api/vm/info", Some(&t2), None).await;
    assert_eq!(r.json()["data"]["application"], "2.6.0");
    let r = get(&sim, &t2, "/api/application/version").await;
    assert_eq!(
        r,
        r#"{"code":0,"msg":"success","data":{"current":"2.6.0","latest":"2.6.0"}}"#
    );
}
