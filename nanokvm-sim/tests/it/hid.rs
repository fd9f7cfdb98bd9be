//! Paste, LEDs, storage and Wake-on-LAN routes.

use nanokvm_hid::{KeyboardReport, Layout};
use nanokvm_sim::{BootDevice, FirmwareVersion, HidReport, MachineConfig, Stage};

use crate::support::{fast, login, request, start};

fn keyboard(reports: &[HidReport]) -> Vec<[u8; 8]> {
    reports
        .iter()
        .filter_map(|r| match r {
            HidReport::Keyboard(k) => Some(k.to_bytes()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn paste_types_paired_reports_skips_unknown_runes_and_shows_on_screen() {
    let sim = start(FirmwareVersion::V2_5_1).await;
    let t = login(&sim).await;
    let r = request(
        sim.addr(),
        "POST",
        "/api/hid/paste",
        Some(&t),
        Some(r#"{"content":"Hi\r\n€"}"#),
    )
    .await;
    assert_eq!(r.body, r#"{"code":0,"msg":"success","data":null}"#);
    let reports = keyboard(&sim.hid_reports());
    assert_eq!(
        reports,
        vec![
            [2, 0, 0x0B, 0, 0, 0, 0, 0],
            [0; 8],
            [0, 0, 0x0C, 0, 0, 0, 0, 0],
            [0; 8],
            [0, 0, 0x28, 0, 0, 0, 0, 0],
            [0; 8],
            [0; 8],
        ]
    );
    assert!(sim.screen_text().ends_with("target login: Hi\nPassword: "));
}

#[tokio::test]
async fn paste_with_the_de_map_on_a_german_target_round_trips() {
    let sim = fast().layout(Layout::De).start().await.unwrap();
    let t = login(&sim).await;
    let r = request(
        sim.addr(),
        "POST",
        "/api/hid/paste",
        Some(&t),
        Some(r#"{"content":"Grüße yz@","langue":"de"}"#),
    )
    .await;
    assert_eq!(r.json()["code"], 0);
    assert!(
        sim.screen_text().ends_with("Grüße yz@"),
        "{}",
        sim.screen_text()
    );
}

#[tokio::test]
async fn paste_limits_and_errors() {
    let sim = start(FirmwareVersion::V2_5_1).await;
    let t = login(&sim).await;
    let long = format!(r#"{{"content":"{}"}}"#, "é".repeat(834));
    let r = request(sim.addr(), "POST", "/api/hid/paste", Some(&t), Some(&long)).await;
    assert_eq!(
        r.body,
        r#"{"code":-2,"msg":"content too long","data":null}"#
    );
    let r = request(
        sim.addr(),
        "POST",
        "/api/hid/paste",
        Some(&t),
        Some(r#"{"content":""}"#),
    )
    .await;
    assert_eq!(
        r.body,
        r#"{"code":-1,"msg":"invalid arguments","data":null}"#
    );
    sim.set_hid_busy(true);
    let r = request(
        sim.addr(),
        "POST",
        "/api/hid/paste",
        Some(&t),
        Some(r#"{"content":"a"}"#),
    )
    .await;
    assert_eq!(
        r.body,
        r#"{"code":-3,"msg":"HID control is busy","data":null}"#
    );
    assert!(sim.hid_reports().is_empty());

    // 833 two-byte runes are fine from 2.5.0 but over 1024 bytes for 2.3.1.
    let old = start(FirmwareVersion::V2_3_1).await;
    let t = login(&old).await;
    let body = format!(r#"{{"content":"{}"}}"#, "é".repeat(513));
    let r = request(old.addr(), "POST", "/api/hid/paste", Some(&t), Some(&body)).await;
    assert_eq!(r.json()["code"], -2);
}

#[tokio::test]
async fn leds_are_unknown_until_the_host_reports_them() {
    let sim = fast().powered_on(false).start().await.unwrap();
    let t = login(&sim).await;
    let r = request(sim.addr(), "GET", "/api/hid/leds", Some(&t), None).await;
    assert_eq!(
        r.body,
        r#"{"code":0,"msg":"success","data":{"numLock":false,"capsLock":false,"scrollLock":false,"known":false,"updatedAt":""}}"#
    );
    let _ = KeyboardReport::RELEASE;
}

#[tokio::test]
async fn wake_on_lan_normalises_and_remembers_macs() {
    let sim = fast().start().await.unwrap();
    let t = login(&sim).await;
    let r = request(
        sim.addr(),
        "POST",
        "/api/network/wol",
        Some(&t),
        Some(r#"{"mac":"aa-bb-cc-dd-ee-ff"}"#),
    )
    .await;
    assert_eq!(r.json()["code"], 0);
    let r = request(
        sim.addr(),
        "POST",
        "/api/network/wol",
        Some(&t),
        Some(r#"{"mac":"xyz"}"#),
    )
    .await;
    assert_eq!(
        r.body,
        r#"{"code":-2,"msg":"invalid MAC address","data":null}"#
    );
    assert_eq!(sim.wol_packets()[0].mac, "AA:BB:CC:DD:EE:FF");
    let r = request(sim.addr(), "GET", "/api/network/wol/mac", Some(&t), None).await;
    assert_eq!(
        r.body,
        r#"{"code":0,"msg":"success","data":{"macs":["AA:BB:CC:DD:EE:FF"]}}"#
    );
}

#[tokio::test]
async fn storage_lists_mounts_and_refuses_to_escape_the_data_directory() {
    let sim = fast().start().await.unwrap();
    let t = login(&sim).await;
    std::fs::create_dir_all(sim.data_dir().join("sub")).unwrap();
    std::fs::write(sim.data_dir().join("b.ISO"), b"x").unwrap();
    std::fs::write(sim.data_dir().join("sub/a.img"), b"x").unwrap();
    std::fs::write(sim.data_dir().join("notes.txt"), b"x").unwrap();
    let r = request(sim.addr(), "GET", "/api/storage/image", Some(&t), None).await;
    assert_eq!(
        r.body,
        r#"{"code":0,"msg":"success","data":{"files":["/data/b.ISO","/data/sub/a.img"]}}"#
    );

    let r = request(
        sim.addr(),
        "POST",
        "/api/storage/image/mount",
        Some(&t),
        Some(r#"{"file":"/data/b.ISO","cdrom":true}"#),
    )
    .await;
    assert_eq!(r.json()["code"], 0);
    assert_eq!(sim.mounted_image().as_deref(), Some("/data/b.ISO"));
    let r = request(sim.addr(), "GET", "/api/storage/cdrom", Some(&t), None).await;
    assert_eq!(r.body, r#"{"code":0,"msg":"success","data":{"cdrom":1}}"#);
    // A plain disk mount keeps the previous cdrom flag (the firmware quirk).
    request(
        sim.addr(),
        "POST",
        "/api/storage/image/mount",
        Some(&t),
        Some(r#"{"file":"/data/sub/a.img"}"#),
    )
    .await;
    assert!(sim.cdrom());
    request(
        sim.addr(),
        "POST",
        "/api/storage/image/mount",
        Some(&t),
        Some(r#"{"file":""}"#),
    )
    .await;
    assert!(!sim.cdrom());
    assert_eq!(sim.mounted_image(), None);

    let r = request(
        sim.addr(),
        "POST",
        "/api/storage/image/mount",
        Some(&t),
        Some(r#"{"file":"/data/../../etc/passwd"}"#),
    )
    .await;
    assert_eq!(
        r.body,
        r#"{"code":-2,"msg":"mount image failed","data":null}"#
    );
    let r = request(
        sim.addr(),
        "POST",
        "/api/storage/image/delete",
        Some(&t),
        Some(r#"{"file":"/data/../x.iso"}"#),
    )
    .await;
    assert_eq!(
        r.body,
        r#"{"code":-3,"msg":"remove file failed","data":null}"#
    );
    let r = request(
        sim.addr(),
        "POST",
        "/api/storage/image/delete",
        Some(&t),
        Some(r#"{"file":"/data/notes.txt"}"#),
    )
    .await;
    assert_eq!(
        r.body,
        r#"{"code":-2,"msg":"invalid arguments","data":null}"#
    );
    let r = request(
        sim.addr(),
        "POST",
        "/api/storage/image/delete",
        Some(&t),
        Some(r#"{"file":"/data/b.ISO"}"#),
    )
    .await;
    assert_eq!(r.json()["code"], 0);
    assert!(!sim.data_dir().join("b.ISO").exists());
}

#[tokio::test]
async fn booting_with_a_cdrom_mounted_shows_the_image() {
    let sim = fast()
        .machine(MachineConfig::new().boot_order([BootDevice::CdRom]))
        .start()
        .await
        .unwrap();
    let t = login(&sim).await;
    std::fs::write(sim.data_dir().join("live.iso"), b"x").unwrap();
    request(
        sim.addr(),
        "POST",
        "/api/storage/image/mount",
        Some(&t),
        Some(r#"{"file":"/data/live.iso","cdrom":true}"#),
    )
    .await;
    request(
        sim.addr(),
        "POST",
        "/api/vm/gpio",
        Some(&t),
        Some(r#"{"type":"reset"}"#),
    )
    .await;
    let shown = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        sim.wait_for(|m| m.stage() == Stage::InstallerMenu),
    )
    .await;
    assert!(shown.is_ok(), "{}", sim.screen_text());
    assert!(sim.screen_text().contains("live.iso - installer boot menu"));
    assert_eq!(sim.machine().boot_media(), Some("/data/live.iso"));
}

#[tokio::test]
async fn a_disk_first_in_the_boot_order_boots_even_with_a_cdrom_mounted() {
    let sim = fast().start().await.unwrap();
    let t = login(&sim).await;
    std::fs::write(sim.data_dir().join("live.iso"), b"x").unwrap();
    let body = Some(r#"{"file":"/data/live.iso","cdrom":true}"#);
    request(
        sim.addr(),
        "POST",
        "/api/storage/image/mount",
        Some(&t),
        body,
    )
    .await;
    let reset = Some(r#"{"type":"reset"}"#);
    request(sim.addr(), "POST", "/api/vm/gpio", Some(&t), reset).await;
    let booted = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        sim.wait_for(|m| m.stage() == Stage::Login),
    )
    .await;
    assert!(booted.is_ok(), "{}", sim.screen_text());
    assert_eq!(sim.machine().boot_media(), None);
}
