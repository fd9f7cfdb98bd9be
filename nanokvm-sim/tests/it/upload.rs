//! `POST /api/download/file`: multipart ISO uploads, the ISO-9660 check, the file name
//! rules, and what a bad upload leaves behind in each firmware version.

use std::net::SocketAddr;

use nanokvm_sim::{FirmwareVersion, Simulator};
use sha2::{Digest, Sha256};

use crate::download::data_files;
use crate::support::{Reply, login, raw, request, start};

/// A minimal ISO-9660 image: the `CD001` signature of the primary volume descriptor at
/// byte 0x8001, with `fill` before it.
pub fn iso(fill: u8) -> Vec<u8> {
    let mut image = vec![fill; 0x8800];
    image[0x8000] = 1;
    image[0x8001..0x8006].copy_from_slice(b"CD001");
    image
}

/// One multipart part: form name, optional file name, content.
pub struct Part<'a> {
    pub name: &'a str,
    pub file: Option<&'a str>,
    pub data: &'a [u8],
}

pub fn multipart(parts: &[Part<'_>]) -> Vec<u8> {
    let mut body = Vec::new();
    for p in parts {
        body.extend_from_slice(b"--BOUNDARY\r\n");
        let disposition = match p.file {
            Some(f) => format!(
                "Content-Disposition: form-data; name=\"{}\"; filename=\"{f}\"\r\n",
                p.name
            ),
            None => format!("Content-Disposition: form-data; name=\"{}\"\r\n", p.name),
        };
        body.extend_from_slice(disposition.as_bytes());
        body.extend_from_slice(b"Content-Type: application/octet-stream\r\n\r\n");
        body.extend_from_slice(p.data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"--BOUNDARY--\r\n");
    body
}

pub fn file_part<'a>(file: &'a str, data: &'a [u8]) -> Vec<Part<'a>> {
    vec![Part {
        name: "file",
        file: Some(file),
        data,
    }]
}

/// Posts `body` to the upload route with `content_type` and extra header lines.
pub async fn post_upload(
    addr: SocketAddr,
    token: &str,
    content_type: &str,
    extra: &str,
    body: &[u8],
) -> Reply {
    let mut bytes = format!(
        "POST /api/download/file HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
Cookie: nano-kvm-token={token}\r\nContent-Type: {content_type}\r\n{extra}\
Content-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    bytes.extend_from_slice(body);
    raw(addr, &bytes).await
}

const FORM: &str = "multipart/form-data; boundary=BOUNDARY";

async fn upload(sim: &Simulator, token: &str, parts: &[Part<'_>]) -> String {
    post_upload(sim.addr(), token, FORM, "", &multipart(parts))
        .await
        .body
}

fn error(msg: &str) -> String {
    format!(r#"{{"code":-1,"msg":"{msg}","data":null}}"#)
}

const IDLE: &str =
    r#"{"code":0,"msg":"success","data":{"status":"idle","file":"","percentage":""}}"#;

#[tokio::test]
async fn an_iso_upload_lands_in_the_data_directory_in_every_version() {
    for fw in crate::support::ALL {
        let sim = start(fw).await;
        let t = login(&sim).await;
        let image = iso(0x11);
        let parts = [
            Part {
                name: "note",
                file: None,
                data: b"ignored",
            },
            Part {
                name: "file",
                file: Some("ubuntu.iso"),
                data: &image,
            },
        ];
        assert_eq!(upload(&sim, &t, &parts).await, IDLE, "{fw}");
        assert_eq!(
            std::fs::read(sim.data_dir().join("ubuntu.iso")).unwrap(),
            image
        );
        assert_eq!(data_files(&sim), ["ubuntu.iso"], "{fw}");
        assert_eq!(sim.download_state().status, "idle");
        let r = request(sim.addr(), "GET", "/api/storage/image", Some(&t), None).await;
        assert_eq!(
            r.body,
            r#"{"code":0,"msg":"success","data":{"files":["/data/ubuntu.iso"]}}"#
        );
    }
}

#[tokio::test]
async fn the_sha256_header_is_checked_on_current_firmware() {
    let sim = start(FirmwareVersion::V2_5_1).await;
    let t = login(&sim).await;
    let image = iso(0);
    let body = multipart(&file_part("a.iso", &image));
    let good: String = Sha256::digest(&image)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let r = post_upload(
        sim.addr(),
        &t,
        FORM,
        &format!("X-SHA256-Sum: {good}\r\n"),
        &body,
    )
    .await;
    assert_eq!(r.body, IDLE);
    let wrong = format!("X-SHA256-Sum: {}\r\n", "ab".repeat(32));
    let body = multipart(&file_part("b.iso", &image));
    let r = post_upload(sim.addr(), &t, FORM, &wrong, &body).await;
    assert_eq!(r.body, error("sha256 mismatch"));
    assert_eq!(sim.download_state().status, "checksum_failed");
    let r = post_upload(sim.addr(), &t, FORM, "X-SHA256-Sum: xyz\r\n", &body).await;
    assert_eq!(r.body, error("invalid sha256sum"));
    assert_eq!(data_files(&sim), ["a.iso"]);
}

#[tokio::test]
async fn bad_uploads_get_the_firmware_answer_and_leave_no_file() {
    let sim = start(FirmwareVersion::V2_5_1).await;
    let t = login(&sim).await;
    let image = iso(0);
    // An image already in place must survive a bad upload of the same name.
    std::fs::write(sim.data_dir().join("keep.iso"), b"old").unwrap();
    let not_iso = vec![0u8; 0x9000];
    let short = b"CD001".to_vec();
    let cases: Vec<(Vec<Part<'_>>, String)> = vec![
        (
            file_part("keep.iso", &not_iso),
            error("file is not a valid ISO image"),
        ),
        (
            file_part("keep.iso", &short),
            error("file is not a valid ISO image"),
        ),
        (file_part("..", &image), error("invalid filename")),
        (file_part("a..b.iso", &image), error("invalid filename")),
        (file_part("a b.iso", &image), error("invalid filename")),
        (file_part("x%00.iso", &image), error("invalid filename")),
        (file_part("x\u{0}.iso", &image), error("invalid filename")),
        (file_part("x.img", &image), error("only .iso files allowed")),
        (file_part("", &image), error("no filename")),
        (
            vec![Part {
                name: "file",
                file: None,
                data: &image,
            }],
            error("no filename"),
        ),
        (
            vec![Part {
                name: "other",
                file: Some("x.iso"),
                data: &image,
            }],
            error("file is required"),
        ),
        (Vec::new(), error("file is required")),
    ];
    for (parts, answer) in &cases {
        assert_eq!(&upload(&sim, &t, parts).await, answer);
        assert_eq!(sim.download_state().status, "failed", "{answer}");
    }
    assert_eq!(data_files(&sim), ["keep.iso"]);
    assert_eq!(
        std::fs::read(sim.data_dir().join("keep.iso")).unwrap(),
        b"old"
    );
}

#[tokio::test]
async fn broken_multipart_bodies_are_refused_where_go_refuses_them() {
    let sim = start(FirmwareVersion::V2_5_1).await;
    let t = login(&sim).await;
    let image = iso(0);
    let whole = multipart(&file_part("cut.iso", &image));
    let cases: Vec<(&str, Vec<u8>, String)> = vec![
        (
            "application/json",
            whole.clone(),
            error("invalid multipart data"),
        ),
        (
            "multipart/form-data",
            whole.clone(),
            error("invalid multipart data"),
        ),
        (
            "text/plain; boundary=BOUNDARY",
            whole.clone(),
            error("invalid multipart data"),
        ),
        (FORM, Vec::new(), error("failed to read part")),
        (
            FORM,
            b"no boundary here\r\n".to_vec(),
            error("failed to read part"),
        ),
        (
            FORM,
            b"--BOUNDARY\r\nbroken header\r\n\r\nx\r\n--BOUNDARY--\r\n".to_vec(),
            error("failed to read part"),
        ),
        // The body stops in the middle of the file part.
        (
            FORM,
            whole[..whole.len() / 2].to_vec(),
            error("write failed"),
        ),
    ];
    for (ct, body, answer) in cases {
        let r = post_upload(sim.addr(), &t, ct, "", &body).await;
        assert_eq!((r.status, r.body), (200, answer), "{ct}");
    }
    assert!(data_files(&sim).is_empty(), "{:?}", data_files(&sim));
}

#[tokio::test]
async fn file_names_with_directories_are_reduced_to_their_last_element() {
    let sim = start(FirmwareVersion::V2_5_1).await;
    let t = login(&sim).await;
    let image = iso(1);
    // Go's `Part.FileName` applies `filepath.Base`, so these land in the data directory.
    for name in ["../../escape.iso", "/etc/abs.iso", "dir/sub.iso"] {
        assert_eq!(upload(&sim, &t, &file_part(name, &image)).await, IDLE);
    }
    assert_eq!(data_files(&sim), ["abs.iso", "escape.iso", "sub.iso"]);
    let parent = sim.data_dir().parent().unwrap();
    assert!(!parent.join("escape.iso").exists());
}

#[tokio::test]
async fn a_large_upload_is_streamed_and_a_rejected_one_leaves_nothing() {
    let sim = start(FirmwareVersion::V2_5_1).await;
    let t = login(&sim).await;
    let mut big = iso(0x5A);
    big.resize(6 << 20, 0x5A);
    assert_eq!(upload(&sim, &t, &file_part("big.iso", &big)).await, IDLE);
    assert_eq!(
        std::fs::metadata(sim.data_dir().join("big.iso"))
            .unwrap()
            .len(),
        6 << 20
    );
    let junk = vec![0x42u8; 6 << 20];
    assert_eq!(
        upload(&sim, &t, &file_part("junk.iso", &junk)).await,
        error("file is not a valid ISO image")
    );
    assert_eq!(data_files(&sim), ["big.iso"]);
}

#[tokio::test]
async fn uploads_and_downloads_share_one_lane() {
    let origin = crate::origin::Origin::start(crate::download::payload(20_000)).await;
    let sim = start(FirmwareVersion::V2_5_1).await;
    let t = login(&sim).await;
    let url = origin.url("/slow/wait.iso");
    request(
        sim.addr(),
        "POST",
        "/api/download/image",
        Some(&t),
        Some(&format!(r#"{{"file":"{url}"}}"#)),
    )
    .await;
    let image = iso(0);
    assert_eq!(
        upload(&sim, &t, &file_part("x.iso", &image)).await,
        error("download in progress")
    );
    origin.release();
    let done = sim.wait_for_download(|d| d.status != "in_progress").await;
    assert_eq!(done.status, "success");
    assert_eq!(upload(&sim, &t, &file_part("x.iso", &image)).await, IDLE);
}

#[tokio::test]
async fn legacy_uploads_write_in_place_and_panic_without_a_file_part() {
    let sim = start(FirmwareVersion::V2_3_1).await;
    let t = login(&sim).await;
    // 2.3.1 truncates the target before checking it: a bad upload destroys an image of
    // the same name, as on the device.
    std::fs::write(sim.data_dir().join("keep.iso"), b"old").unwrap();
    let not_iso = vec![0u8; 0x9000];
    assert_eq!(
        upload(&sim, &t, &file_part("keep.iso", &not_iso)).await,
        error("file is not a valid ISO image")
    );
    assert!(data_files(&sim).is_empty());
    assert_eq!(sim.download_state().status, "idle");
    assert_eq!(
        upload(&sim, &t, &file_part("x.img", &not_iso)).await,
        error("only .iso files allowed")
    );
    assert_eq!(sim.download_state().status, "idle");
    // No file part: the writer was never created, Go panics, gin answers 500 and the
    // sentinel stays.
    let r = post_upload(sim.addr(), &t, FORM, "", &multipart(&[])).await;
    assert_eq!((r.status, r.body.as_str()), (500, ""));
    let stuck = sim.download_state();
    assert_eq!(
        (stuck.status.as_str(), stuck.file.as_str()),
        ("in_progress", "start")
    );
    assert_eq!(
        upload(&sim, &t, &file_part("y.iso", &iso(0))).await,
        error("download in progress")
    );
    sim.reboot_device();
    let t = login(&sim).await;
    assert_eq!(upload(&sim, &t, &file_part("y.iso", &iso(0))).await, IDLE);
    assert_eq!(data_files(&sim), ["y.iso"]);
}
