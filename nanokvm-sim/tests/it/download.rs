//! `/api/download/image*`: the simulator really fetches the URL (from an origin server
//! in the test), verifies the SHA-256, reports progress, cancels, and leaves the status
//! each firmware version leaves.

use nanokvm_sim::{FirmwareVersion, Simulator};
use sha2::{Digest, Sha256};

use crate::origin::{Origin, closed_port};
use crate::support::{login, request, start};

/// A payload that is not all one byte, so truncation or reordering would show.
pub fn payload(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| u8::try_from(i * 7 % 251).unwrap())
        .collect()
}

fn hex_sha256(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The names in the data directory, sorted, hidden files included.
pub fn data_files(sim: &Simulator) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(sim.data_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

async fn start_download(sim: &Simulator, token: &str, body: &str) -> String {
    request(
        sim.addr(),
        "POST",
        "/api/download/image",
        Some(token),
        Some(body),
    )
    .await
    .body
}

async fn status(sim: &Simulator, token: &str) -> String {
    request(
        sim.addr(),
        "GET",
        "/api/download/image/status",
        Some(token),
        None,
    )
    .await
    .body
}

fn in_progress(url: &str) -> String {
    format!(
        r#"{{"code":0,"msg":"success","data":{{"status":"in_progress","file":"{url}","percentage":""}}}}"#
    )
}

fn status_body(status: &str) -> String {
    format!(
        r#"{{"code":0,"msg":"success","data":{{"status":"{status}","file":"","percentage":""}}}}"#
    )
}

#[tokio::test]
async fn downloads_land_in_the_data_directory_with_a_verified_checksum() {
    let data = payload(50_000);
    let origin = Origin::start(data.clone()).await;
    for fw in [FirmwareVersion::V2_5_1, FirmwareVersion::V2_5_0] {
        let sim = start(fw).await;
        let t = login(&sim).await;
        assert_eq!(status(&sim, &t).await, status_body("idle"), "{fw}");
        // Length-framed, chunked, and behind a redirect: all three arrive intact.
        for (path, name) in [
            ("/files/one.iso", "one.iso"),
            ("/chunked/two.img", "two.img"),
            ("/redirect/three.iso", "three.iso"),
        ] {
            let url = origin.url(path);
            let body = format!(r#"{{"file":"{url}","sha256sum":"{}"}}"#, hex_sha256(&data));
            assert_eq!(start_download(&sim, &t, &body).await, in_progress(&url));
            let done = sim.wait_for_download(|d| d.status != "in_progress").await;
            assert_eq!(done.status, "success", "{fw} {path}");
            assert_eq!(std::fs::read(sim.data_dir().join(name)).unwrap(), data);
            assert_eq!(status(&sim, &t).await, status_body("success"));
        }
        // No temporary file is left behind.
        assert_eq!(data_files(&sim), ["one.iso", "three.iso", "two.img"]);
        let r = request(sim.addr(), "GET", "/api/storage/image", Some(&t), None).await;
        assert_eq!(
            r.body,
            r#"{"code":0,"msg":"success","data":{"files":["/data/one.iso","/data/three.iso","/data/two.img"]}}"#
        );
        sim.shutdown().await.unwrap();
    }
}

#[tokio::test]
async fn checksum_mismatches_and_http_errors_leave_nothing_but_the_status() {
    let origin = Origin::start(payload(10_000)).await;
    let sim = start(FirmwareVersion::V2_5_1).await;
    let t = login(&sim).await;
    let url = origin.url("/files/bad.iso");
    let wrong = "00".repeat(32);
    let body = format!(r#"{{"file":"{url}","sha256sum":"{wrong}"}}"#);
    assert_eq!(start_download(&sim, &t, &body).await, in_progress(&url));
    let done = sim.wait_for_download(|d| d.status != "in_progress").await;
    assert_eq!(done.status, "checksum_failed");
    assert_eq!(status(&sim, &t).await, status_body("checksum_failed"));
    assert!(data_files(&sim).is_empty());

    let url = origin.url("/nothing/here.iso");
    let body = format!(r#"{{"file":"{url}"}}"#);
    assert_eq!(start_download(&sim, &t, &body).await, in_progress(&url));
    let done = sim.wait_for_download(|d| d.status != "in_progress").await;
    assert_eq!(done.status, "failed");
    let url = format!("http://{}/x.iso", closed_port().await);
    start_download(&sim, &t, &format!(r#"{{"file":"{url}"}}"#)).await;
    let done = sim.wait_for_download(|d| d.status != "in_progress").await;
    assert_eq!(done.status, "failed");
    assert!(data_files(&sim).is_empty());
}

#[tokio::test]
async fn progress_is_reported_and_a_running_download_can_be_cancelled() {
    let data = payload(40_000);
    let origin = Origin::start(data.clone()).await;
    let sim = start(FirmwareVersion::V2_5_1).await;
    let t = login(&sim).await;
    let url = origin.url("/slow/big.iso");
    assert_eq!(
        start_download(&sim, &t, &format!(r#"{{"file":"{url}"}}"#)).await,
        in_progress(&url)
    );
    // Half the payload arrived: the ticker reports 50.00%.
    let state = sim.wait_for_download(|d| d.percentage == "50.00%").await;
    assert_eq!(
        (state.status.as_str(), state.file.as_str()),
        ("in_progress", url.as_str())
    );
    assert_eq!(
        status(&sim, &t).await,
        format!(
            r#"{{"code":0,"msg":"success","data":{{"status":"in_progress","file":"{url}","percentage":"50.00%"}}}}"#
        )
    );
    // One transfer at a time.
    let other = origin.url("/files/other.iso");
    assert_eq!(
        start_download(&sim, &t, &format!(r#"{{"file":"{other}"}}"#)).await,
        r#"{"code":-1,"msg":"download in progress","data":null}"#
    );
    let r = request(
        sim.addr(),
        "POST",
        "/api/download/image/cancel",
        Some(&t),
        Some("{}"),
    )
    .await;
    assert_eq!(r.body, r#"{"code":0,"msg":"success","data":null}"#);
    assert_eq!(status(&sim, &t).await, status_body("idle"));
    assert!(data_files(&sim).is_empty(), "{:?}", data_files(&sim));
    let r = request(
        sim.addr(),
        "POST",
        "/api/download/image/cancel",
        Some(&t),
        None,
    )
    .await;
    assert_eq!(
        r.body,
        r#"{"code":-1,"msg":"no cancellable download in progress","data":null}"#
    );
    origin.release();
}

#[tokio::test]
async fn bad_download_requests_get_the_firmware_answers() {
    let sim = start(FirmwareVersion::V2_5_1).await;
    let t = login(&sim).await;
    let invalid = r#"{"code":-1,"msg":"invalid arguments","data":null}"#;
    let bad_sum = r#"{"code":-1,"msg":"invalid sha256sum","data":null}"#;
    let bad_url = r#"{"code":-1,"msg":"invalid url","data":null}"#;
    for (body, answer) in [
        ("", invalid),
        ("{", invalid),
        ("[]", invalid),
        ("{}", invalid),
        (r#"{"file":""}"#, invalid),
        (r#"{"file":7}"#, invalid),
        (r#"{"file":"http://h/x.iso","sha256sum":5}"#, invalid),
        (r#"{"file":"http://h/x.iso","sha256sum":"abc"}"#, bad_sum),
        (r#"{"file":"ftp://h/x.iso"}"#, bad_url),
        (r#"{"file":"http://h"}"#, bad_url),
        (r#"{"file":"http://h/"}"#, bad_url),
        (r#"{"file":"http://h/."}"#, bad_url),
        (r#"{"file":"/data/x.iso"}"#, bad_url),
        (r#"{"file":"http://h/%zz.iso"}"#, bad_url),
        (r#"{"file":"http://h/x\u0000.iso"}"#, bad_url),
        (r#"{"file":"http://h:port/x.iso"}"#, bad_url),
    ] {
        assert_eq!(start_download(&sim, &t, body).await, answer, "{body}");
    }
    assert_eq!(status(&sim, &t).await, status_body("idle"));
    assert!(data_files(&sim).is_empty());
}

#[tokio::test]
async fn urls_that_name_no_file_in_the_data_directory_fail_without_writing() {
    let origin = Origin::start(payload(100)).await;
    let sim = start(FirmwareVersion::V2_5_1).await;
    let t = login(&sim).await;
    let outside = sim.data_dir().parent().unwrap().join("escaped");
    // The last path element is "..": the device cannot rename onto `/`, and the
    // simulator never writes outside its data directory.
    for path in ["/files/..", "/files/%2e%2e"] {
        let url = origin.url(path);
        start_download(&sim, &t, &format!(r#"{{"file":"{url}"}}"#)).await;
        let done = sim.wait_for_download(|d| d.status != "in_progress").await;
        assert_eq!(done.status, "failed", "{path}");
    }
    assert!(data_files(&sim).is_empty());
    assert!(!outside.exists());
}

#[tokio::test]
async fn legacy_downloads_check_the_url_first_and_report_from_the_sentinel() {
    let data = payload(30_000);
    let origin = Origin::start(data.clone()).await;
    let sim = start(FirmwareVersion::V2_3_1).await;
    let t = login(&sim).await;
    let url = origin.url("/slow/legacy.iso");
    assert_eq!(
        start_download(&sim, &t, &format!(r#"{{"file":"{url}","cdrom":true}}"#)).await,
        in_progress(&url)
    );
    let state = sim.wait_for_download(|d| d.percentage == "50.00%").await;
    assert_eq!(state.file, url);
    assert_eq!(
        origin.requests(),
        ["HEAD /slow/legacy.iso", "GET /slow/legacy.iso"]
    );
    origin.release();
    sim.wait_for_download(|d| d.status == "idle").await;
    assert_eq!(
        std::fs::read(sim.data_dir().join("legacy.iso")).unwrap(),
        data
    );
    assert_eq!(status(&sim, &t).await, status_body("idle"));

    // A failing HEAD answers with its status code as the envelope code.
    let url = origin.url("/missing.iso");
    assert_eq!(
        start_download(&sim, &t, &format!(r#"{{"file":"{url}"}}"#)).await,
        r#"{"code":404,"msg":"failed when checking the url","data":null}"#
    );
    // No cancel route and no sha256 before 2.5.0; an ftp URL passes the check.
    let r = request(
        sim.addr(),
        "POST",
        "/api/download/image/cancel",
        Some(&t),
        None,
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (404, "404 page not found"));

    // An unreachable URL panics the 2.3.1 handler: HTTP 500, and its sentinel stays
    // until the device restarts.
    let url = format!("http://{}/x.iso", closed_port().await);
    let r = request(
        sim.addr(),
        "POST",
        "/api/download/image",
        Some(&t),
        Some(&format!(r#"{{"file":"{url}"}}"#)),
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (500, ""));
    let stuck = format!(
        r#"{{"code":0,"msg":"success","data":{{"status":"in_progress","file":"{url}","percentage":""}}}}"#
    );
    assert_eq!(status(&sim, &t).await, stuck);
    let again = origin.url("/files/again.iso");
    assert_eq!(
        start_download(&sim, &t, &format!(r#"{{"file":"{again}"}}"#)).await,
        r#"{"code":-1,"msg":"download in progress","data":null}"#
    );
    sim.reboot_device();
    let t = login(&sim).await;
    assert_eq!(status(&sim, &t).await, status_body("idle"));
}

#[tokio::test]
async fn the_enabled_flag_follows_whether_the_data_directory_is_writable() {
    for fw in crate::support::ALL {
        let sim = start(fw).await;
        let t = login(&sim).await;
        let r = request(
            sim.addr(),
            "GET",
            "/api/download/image/enabled",
            Some(&t),
            None,
        )
        .await;
        assert_eq!(
            r.body,
            r#"{"code":0,"msg":"success","data":{"enabled":true}}"#
        );
        assert!(data_files(&sim).is_empty(), "the probe file is removed");
        std::fs::remove_dir_all(sim.data_dir()).unwrap();
        let r = request(
            sim.addr(),
            "GET",
            "/api/download/image/enabled",
            Some(&t),
            None,
        )
        .await;
        assert_eq!(
            r.body,
            r#"{"code":0,"msg":"success","data":{"enabled":false}}"#
        );
    }
}
