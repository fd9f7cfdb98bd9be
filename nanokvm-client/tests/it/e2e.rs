//! End to end: the client against a simulated NanoKVM in each firmware version it plays,
//! checking the effect on the simulated machine rather than the requests sent.
//!
//! The simulator is a separate implementation of `docs/protocol.md`, started as a
//! black box on 127.0.0.1; nothing here shares its code.

use std::time::Duration;

use nanokvm_client::api::device::{Service, VirtualDevice};
use nanokvm_client::api::hid::{JigglerMode, PasteLayout};
use nanokvm_client::api::storage::MountMode;
use nanokvm_client::{Client, SecretString, WsSession};
use nanokvm_hid::{Chord, KeyboardReport, Keycode, Layout, Modifiers, MouseButtons};
use nanokvm_sim::{FirmwareVersion, HidReport, PowerState, Simulator, TimeScale};

const VERSIONS: [FirmwareVersion; 3] = [
    FirmwareVersion::V2_5_1,
    FirmwareVersion::V2_5_0,
    FirmwareVersion::V2_3_1,
];

async fn start(version: FirmwareVersion) -> (Simulator, Client) {
    let sim = Simulator::builder()
        .firmware(version)
        .time_scale(TimeScale::fast())
        .resolution(320, 200)
        .start()
        .await
        .expect("the simulator starts");
    let client = Client::builder(sim.url())
        .credentials("admin", SecretString::from("admin".to_owned()))
        .build()
        .expect("a valid client configuration");
    (sim, client)
}

/// Waits until the simulated screen shows `text`, for at most a few seconds of real time.
async fn screen_shows(sim: &Simulator, text: &str) -> bool {
    tokio::time::timeout(
        Duration::from_secs(5),
        sim.wait_for(|m| m.screen_text().contains(text)),
    )
    .await
    .is_ok()
}

#[tokio::test]
async fn pasted_and_typed_text_reaches_the_target_screen() {
    for version in VERSIONS {
        let (sim, client) = start(version).await;
        client
            .login()
            .await
            .unwrap_or_else(|e| panic!("{version:?}: login: {e}"));
        let caps = client.capabilities().await.expect("capabilities");
        assert_eq!(
            caps.application.to_string(),
            version.as_str(),
            "{version:?}"
        );

        let pasted = client
            .hid()
            .paste("Hello, World!", PasteLayout::Us)
            .await
            .unwrap_or_else(|e| panic!("{version:?}: paste: {e}"));
        assert_eq!(pasted.typed, 13, "{version:?}");
        assert!(
            screen_shows(&sim, "Hello, World!").await,
            "{version:?}: {}",
            sim.screen_text()
        );

        let session = client
            .ws()
            .await
            .unwrap_or_else(|e| panic!("{version:?}: ws: {e}"));
        session
            .type_text(" echo ok\n", Layout::Us, Duration::ZERO)
            .await
            .unwrap_or_else(|e| panic!("{version:?}: typing: {e}"));
        assert!(
            screen_shows(&sim, "Hello, World! echo ok").await,
            "{version:?}: {}",
            sim.screen_text()
        );
        sim.shutdown().await.expect("clean shutdown");
    }
}

#[tokio::test]
async fn power_buttons_drive_the_simulated_machine() {
    for version in VERSIONS {
        let (sim, client) = start(version).await;
        assert_eq!(sim.power(), PowerState::On, "{version:?}");
        client
            .power()
            .long_press_power()
            .await
            .unwrap_or_else(|e| panic!("{version:?}: long press: {e}"));
        let off = tokio::time::timeout(
            Duration::from_secs(5),
            sim.wait_for(|m| m.power() == PowerState::Off),
        )
        .await;
        assert!(off.is_ok(), "{version:?}: still {:?}", sim.power());
        let leds = client.power().leds().await.expect("LED state");
        assert!(!leds.power, "{version:?}: the power LED is off");

        client.power().press_power().await.expect("short press");
        let on = tokio::time::timeout(
            Duration::from_secs(5),
            sim.wait_for(|m| m.power() == PowerState::On),
        )
        .await;
        assert!(on.is_ok(), "{version:?}: still {:?}", sim.power());
        assert!(client.power().leds().await.expect("LED state").power);
        sim.shutdown().await.expect("clean shutdown");
    }
}

#[tokio::test]
async fn virtual_media_and_wake_on_lan() {
    for version in VERSIONS {
        let (sim, client) = start(version).await;
        std::fs::write(sim.data_dir().join("install.iso"), [0u8; 2048]).expect("seed an image");
        let images = client.storage().images().await.expect("image list");
        assert_eq!(images, ["/data/install.iso"], "{version:?}");
        client
            .storage()
            .mount("/data/install.iso", MountMode::CdRom)
            .await
            .unwrap_or_else(|e| panic!("{version:?}: mount: {e}"));
        assert_eq!(
            sim.mounted_image().as_deref(),
            Some("/data/install.iso"),
            "{version:?}"
        );
        let mounted = client.storage().mounted().await.expect("mounted image");
        assert_eq!(
            mounted.file.as_deref(),
            Some("/data/install.iso"),
            "{version:?}"
        );
        client.storage().unmount().await.expect("unmount");
        assert_eq!(sim.mounted_image(), None, "{version:?}");

        let mac = client
            .network()
            .wake_on_lan("aa-bb-cc-dd-ee-ff")
            .await
            .unwrap_or_else(|e| panic!("{version:?}: wol: {e}"));
        assert_eq!(mac.to_string(), "AA:BB:CC:DD:EE:FF");
        assert_eq!(sim.wol_packets().len(), 1, "{version:?}");
        sim.shutdown().await.expect("clean shutdown");
    }
}

#[tokio::test]
async fn mouse_reports_move_the_simulated_pointer() {
    let (sim, client) = start(FirmwareVersion::V2_5_1).await;
    let session = client.ws().await.expect("ws");
    session.move_to_normalized(0.5, 0.5).await.expect("move");
    session.click(MouseButtons::LEFT).await.expect("click");
    let clicked = tokio::time::timeout(
        Duration::from_secs(5),
        sim.wait_for(|m| !m.clicks().is_empty()),
    )
    .await
    .expect("the click arrives");
    let (x, y) = clicked.pointer();
    assert!(
        (155..=165).contains(&x) && (95..=105).contains(&y),
        "pointer at {x},{y}"
    );
    sim.shutdown().await.expect("clean shutdown");
}

/// Waits until `session` has opened its socket `n` times.
async fn connected(session: &WsSession, n: u64) {
    let mut connections = session.watch_connections();
    tokio::time::timeout(Duration::from_secs(5), connections.wait_for(|c| *c >= n))
        .await
        .expect("the session reconnects within 5 s")
        .expect("the session task is alive");
}

#[tokio::test]
async fn sessions_reconnect_after_dropped_sockets_and_revoked_sessions() {
    for version in VERSIONS {
        let (sim, client) = start(version).await;
        let session = client.ws().await.expect("ws");
        session
            .type_text("one", Layout::Us, Duration::ZERO)
            .await
            .expect("typing");
        assert!(screen_shows(&sim, "target login: one").await, "{version:?}");

        sim.drop_websockets();
        connected(&session, 2).await;
        session
            .type_text(" two", Layout::Us, Duration::ZERO)
            .await
            .unwrap_or_else(|e| panic!("{version:?}: typing after a reconnect: {e}"));
        assert!(
            screen_shows(&sim, "target login: one two").await,
            "{version:?}: {}",
            sim.screen_text()
        );

        if version == FirmwareVersion::V2_5_1 {
            // The device closes the socket with 4401; the upgrade is refused until the
            // client logs in again, once.
            sim.revoke_sessions("admin");
            connected(&session, 3).await;
            assert_eq!(client.login_count().await, 2);
            session
                .type_text(" three", Layout::Us, Duration::ZERO)
                .await
                .expect("typing after a revocation");
            assert!(
                screen_shows(&sim, "one two three").await,
                "{}",
                sim.screen_text()
            );
        }
        sim.shutdown().await.expect("clean shutdown");
    }
}

#[tokio::test]
async fn typing_cut_by_a_dropped_socket_leaves_a_prefix_and_nothing_held() {
    let (sim, client) = start(FirmwareVersion::V2_5_1).await;
    let session = client.ws().await.expect("ws");
    let text = "abcdefghijklmnopqrstuvwxyz";
    // Uninterrupted this takes about a second.
    let typing = session.type_text(text, Layout::Us, Duration::from_millis(40));
    let cut = async {
        sim.wait_for(|m| m.screen_text().contains("abc")).await;
        sim.drop_websockets();
    };
    let (result, ()) = tokio::join!(typing, cut);
    let err = result.expect_err("typing cannot finish across a reconnect");
    assert!(err.is_connection(), "{err:?}");

    // The session carries on; a marker shows what the target ended up with.
    session
        .type_text("!", Layout::Us, Duration::ZERO)
        .await
        .expect("typing after the reconnect");
    assert!(screen_shows(&sim, "!").await);
    let screen = sim.screen_text();
    let line = screen.lines().last().unwrap_or_default();
    let typed = line
        .strip_prefix("target login: ")
        .and_then(|l| l.strip_suffix('!'))
        .unwrap_or_else(|| panic!("unexpected line {line:?}"));
    assert!(
        text.starts_with(typed) && typed.len() >= 3 && typed.len() < text.len(),
        "typed {typed:?}"
    );
    // The simulator released the key the socket held when it dropped it.
    let last_keyboard = sim.hid_reports().into_iter().rev().find_map(|r| match r {
        HidReport::Keyboard(k) => Some(k),
        _ => None,
    });
    assert_eq!(last_keyboard, Some(KeyboardReport::RELEASE));
    sim.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn cancelled_operations_release_on_the_simulator() {
    let (sim, client) = start(FirmwareVersion::V2_5_0).await;
    let session = client.ws().await.expect("ws");
    let chord: Chord = "shift+a".parse().expect("a chord");
    {
        let press = session.press_chord(&chord, Duration::from_secs(30));
        tokio::select! {
            _ = press => panic!("the chord should still be held"),
            _ = sim.wait_for(|m| m.screen_text().ends_with("target login: A")) => {}
        }
    }
    session.tap("z").await.expect("tap");
    assert!(
        screen_shows(&sim, "target login: Az").await,
        "{}",
        sim.screen_text()
    );
    let keyboard: Vec<KeyboardReport> = sim
        .hid_reports()
        .into_iter()
        .filter_map(|r| match r {
            HidReport::Keyboard(k) => Some(k),
            _ => None,
        })
        .collect();
    let shift_a = KeyboardReport::new(Modifiers::LEFT_SHIFT, &[Keycode::A]).expect("report");
    let at = keyboard
        .iter()
        .position(|k| *k == shift_a)
        .expect("shift+a was pressed");
    // Only the cancelled operation's guard can have released it before `z`.
    assert_eq!(keyboard.get(at + 1), Some(&KeyboardReport::RELEASE));

    session.move_to_normalized(0.25, 0.25).await.expect("move");
    {
        let click = session.click(MouseButtons::RIGHT);
        tokio::select! {
            _ = click => panic!("the click should still be held"),
            _ = sim.wait_for(|m| m.buttons() == MouseButtons::RIGHT) => {}
        }
    }
    let released = tokio::time::timeout(
        Duration::from_secs(5),
        sim.wait_for(|m| m.buttons() == MouseButtons::NONE),
    )
    .await;
    assert!(
        released.is_ok(),
        "still held: {:?}",
        sim.machine().buttons()
    );
    // The socket is still open, so the release came from the client, not a disconnect.
    assert_eq!(session.connection_count(), 1);
    sim.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn settings_routes_change_the_simulated_device() {
    for version in VERSIONS {
        let (sim, client) = start(version).await;
        let hid = client.hid();
        if version == FirmwareVersion::V2_3_1 {
            let err = hid.leader_key().await.unwrap_err();
            assert!(err.is_not_supported(), "{version:?}: {err:?}");
        } else {
            hid.set_leader_key(Some(Keycode::SCROLL_LOCK))
                .await
                .unwrap_or_else(|e| panic!("{version:?}: set leader key: {e}"));
            assert_eq!(
                hid.leader_key().await.ok(),
                Some(Some(Keycode::SCROLL_LOCK))
            );
            hid.set_leader_key(None)
                .await
                .expect("clear the leader key");
            assert_eq!(hid.leader_key().await.ok(), Some(None));
        }

        hid.set_mouse_jiggler(Some(JigglerMode::Absolute))
            .await
            .unwrap_or_else(|e| panic!("{version:?}: jiggler: {e}"));
        let on = hid.mouse_jiggler().await.expect("jiggler state");
        assert!(
            on.enabled && on.mode == Some(JigglerMode::Absolute),
            "{on:?}"
        );
        hid.set_mouse_jiggler(None).await.expect("jiggler off");
        let off = hid.mouse_jiggler().await.expect("jiggler state");
        assert!(!off.enabled, "{version:?}: {off:?}");

        let device = client.device();
        device.enable_service(Service::Mdns).await.expect("mDNS on");
        assert!(device.service_enabled(Service::Mdns).await.expect("mDNS"));
        device
            .disable_service(Service::Mdns)
            .await
            .expect("mDNS off");
        assert!(!device.service_enabled(Service::Mdns).await.expect("mDNS"));
        device.enable_service(Service::Ssh).await.expect("SSH on");
        assert!(device.service_enabled(Service::Ssh).await.expect("SSH"));

        let before = device.virtual_devices().await.expect("virtual devices");
        let now_on = device
            .toggle_virtual_device(VirtualDevice::Network)
            .await
            .expect("toggle");
        assert_eq!(now_on, !before.network, "{version:?}");
        assert_eq!(
            device
                .virtual_devices()
                .await
                .expect("virtual devices")
                .network,
            now_on
        );
        sim.shutdown().await.expect("clean shutdown");
    }
}

#[tokio::test]
async fn frame_detection_silences_a_static_screen() {
    let (sim, client) = start(FirmwareVersion::V2_5_1).await;
    // The screen is static once the target has booted to its prompt.
    assert!(screen_shows(&sim, "target login: ").await);
    client
        .hdmi()
        .enable_frame_detection()
        .await
        .expect("detection on");
    let mut stream = client.frames(Duration::from_secs(5)).await.expect("stream");
    assert!(
        stream
            .next_frame(Duration::from_secs(5))
            .await
            .expect("first")
            .is_some()
    );
    // Many frame intervals pass (5 ms each in fast time) without a new part.
    let err = stream
        .next_frame(Duration::from_millis(300))
        .await
        .expect_err("a static screen sends nothing");
    assert!(err.is_timeout(), "{err:?}");
    // A change on the screen gets through.
    client
        .hid()
        .paste("x", PasteLayout::Us)
        .await
        .expect("paste");
    assert!(
        stream
            .next_frame(Duration::from_secs(5))
            .await
            .expect("changed")
            .is_some()
    );

    client
        .hdmi()
        .disable_frame_detection()
        .await
        .expect("detection off");
    for _ in 0..3 {
        assert!(
            stream
                .next_frame(Duration::from_secs(5))
                .await
                .expect("frame")
                .is_some()
        );
    }
    // A pause switches detection off for its length, then on again: the running stream
    // goes silent once the frames sent before that are read.
    client
        .hdmi()
        .pause_frame_detection(Duration::from_secs(1))
        .await
        .expect("pause");
    let mut silent = false;
    for _ in 0..100 {
        match stream.next_frame(Duration::from_millis(300)).await {
            Ok(Some(_)) => {}
            Err(e) if e.is_timeout() => {
                silent = true;
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(silent, "detection is back on after the pause");
    sim.shutdown().await.expect("clean shutdown");
}
