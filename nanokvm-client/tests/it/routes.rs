//! Exact requests for the settings routes: leader key, mouse jiggler, frame detection,
//! SSH and mDNS, virtual USB devices, Wi-Fi and DNS, the device's system settings, AI
//! control and the MCP key, and their version gates.

use std::net::IpAddr;
use std::time::Duration;

use nanokvm_client::SecretString;
use nanokvm_client::api::ai::ControlMode;
use nanokvm_client::api::device::{Service, VirtualDevice, VirtualDevices};
use nanokvm_client::api::hid::{JigglerMode, MouseJiggler};
use nanokvm_client::api::network::{DnsConfig, DnsMode, WifiStatus};
use nanokvm_client::api::system::{
    OledSleep, ScriptMode, TailscaleAction, TailscaleState, UpdateServer,
};
use nanokvm_hid::Keycode;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use wiremock::Mock;
use wiremock::matchers::{body_json, method, path};

use crate::support::{PRO_ONLY_ROUTE, client, device, expect, ok, requests_to};

#[tokio::test]
async fn leader_key_and_mouse_jiggler() {
    let server = device("2.5.0", "PCIE").await;
    expect(
        &server,
        "GET",
        "/api/hid/shortcut/leader-key",
        None,
        json!({"key": "AltRight"}),
    )
    .await;
    expect(
        &server,
        "POST",
        "/api/hid/shortcut/leader-key",
        Some(json!({"key": "ScrollLock"})),
        Value::Null,
    )
    .await;
    expect(
        &server,
        "GET",
        "/api/vm/mouse-jiggler",
        None,
        json!({"enabled": true, "mode": "relative"}),
    )
    .await;
    // The POST route has a trailing slash; without it the firmware answers 307.
    expect(
        &server,
        "POST",
        "/api/vm/mouse-jiggler/",
        Some(json!({"enabled": true, "mode": "absolute"})),
        Value::Null,
    )
    .await;
    let client = client(&server);
    assert_eq!(
        client.hid().leader_key().await.unwrap(),
        Some(Keycode::ALT_RIGHT)
    );
    client
        .hid()
        .set_leader_key(Some(Keycode::SCROLL_LOCK))
        .await
        .unwrap();
    assert_eq!(
        client.hid().mouse_jiggler().await.unwrap(),
        MouseJiggler {
            enabled: true,
            mode: Some(JigglerMode::Relative)
        }
    );
    client
        .hid()
        .set_mouse_jiggler(Some(JigglerMode::Absolute))
        .await
        .unwrap();
    // A usage without a name cannot be stored, and nothing is sent.
    let err = client
        .hid()
        .set_leader_key(Some(Keycode::from_usage(0xA5)))
        .await
        .unwrap_err();
    assert!(err.is_invalid_input(), "{err:?}");
    assert_eq!(
        requests_to(&server, "/api/hid/shortcut/leader-key")
            .await
            .len(),
        2
    );
}

#[tokio::test]
async fn older_firmware_lacks_leader_key_dns_and_jiggler() {
    let server = device("2.2.5", "Alpha").await;
    Mock::given(method("GET"))
        .respond_with(ok(Value::Null))
        .expect(0)
        .named("no route beyond identity")
        .mount(&server)
        .await;
    let client = client(&server);
    let errors = [
        client.hid().leader_key().await.unwrap_err(),
        client.hid().set_leader_key(None).await.unwrap_err(),
        client.hid().mouse_jiggler().await.unwrap_err(),
        client.hid().set_mouse_jiggler(None).await.unwrap_err(),
        client.network().dns().await.unwrap_err(),
        client
            .network()
            .set_dns(&DnsConfig::Dhcp)
            .await
            .unwrap_err(),
    ];
    for err in &errors {
        assert!(err.is_not_supported(), "{err:?}");
        assert!(err.to_string().contains("firmware 2.2.5 on Alpha"), "{err}");
    }
    assert_eq!(
        errors[0].to_string(),
        "the leader key is not supported by firmware 2.2.5 on Alpha (needs firmware 2.3.4 or later)"
    );
    assert_eq!(
        errors[4].to_string(),
        "DNS settings is not supported by firmware 2.2.5 on Alpha (needs firmware 2.4.1 or later)"
    );
    // Nothing beyond the login (with its password-encoding probe) and the identity was
    // sent (an unknown route would have been a 404, which also reads as "not
    // supported", so check the requests).
    let sent: Vec<String> = server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| r.url.path().to_owned())
        .collect();
    assert!(
        sent.iter().all(|p| [
            "/api/auth/login",
            PRO_ONLY_ROUTE,
            "/api/vm/info",
            "/api/vm/hardware"
        ]
        .contains(&p.as_str())),
        "{sent:?}"
    );

    let pro = device("1.2.13", "Pro").await;
    let client = crate::support::client(&pro);
    let err = client.hdmi().enable_frame_detection().await.unwrap_err();
    assert!(err.is_not_supported(), "{err:?}");
    assert!(
        requests_to(&pro, "/api/stream/mjpeg/detect")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn frame_detection_services_and_virtual_devices() {
    let server = device("2.5.1", "PCIE").await;
    for enabled in [true, false] {
        expect(
            &server,
            "POST",
            "/api/stream/mjpeg/detect",
            Some(json!({"enabled": enabled})),
            Value::Null,
        )
        .await;
    }
    expect(
        &server,
        "POST",
        "/api/stream/mjpeg/detect/stop",
        Some(json!({"duration": 1})),
        Value::Null,
    )
    .await;
    expect(
        &server,
        "GET",
        "/api/vm/ssh",
        None,
        json!({"enabled": true}),
    )
    .await;
    expect(&server, "POST", "/api/vm/ssh/disable", None, Value::Null).await;
    expect(
        &server,
        "GET",
        "/api/vm/mdns",
        None,
        json!({"enabled": false}),
    )
    .await;
    expect(&server, "POST", "/api/vm/mdns/enable", None, Value::Null).await;
    expect(
        &server,
        "GET",
        "/api/vm/device/virtual",
        None,
        json!({"network": true, "media": false, "disk": false}),
    )
    .await;
    expect(
        &server,
        "POST",
        "/api/vm/device/virtual",
        Some(json!({"device": "disk"})),
        json!({"on": true}),
    )
    .await;
    let client = client(&server);
    let hdmi = client.hdmi();
    hdmi.enable_frame_detection().await.unwrap();
    hdmi.disable_frame_detection().await.unwrap();
    hdmi.pause_frame_detection(Duration::from_secs(1))
        .await
        .unwrap();
    let err = hdmi
        .pause_frame_detection(Duration::from_millis(500))
        .await
        .unwrap_err();
    assert!(err.is_invalid_input(), "{err:?}");

    let device = client.device();
    assert!(device.service_enabled(Service::Ssh).await.unwrap());
    device.disable_service(Service::Ssh).await.unwrap();
    assert!(!device.service_enabled(Service::Mdns).await.unwrap());
    device.enable_service(Service::Mdns).await.unwrap();
    assert_eq!(
        device.virtual_devices().await.unwrap(),
        VirtualDevices {
            network: true,
            disk: false
        }
    );
    assert!(
        device
            .toggle_virtual_device(VirtualDevice::Disk)
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn wifi_and_dns() {
    let server = device("2.5.0", "Beta").await;
    expect(
        &server,
        "GET",
        "/api/network/wifi",
        None,
        json!({"supported": true, "apMode": false, "connected": true, "ssid": "lab"}),
    )
    .await;
    // The Wi-Fi password travels as it is: the firmware does not de-obfuscate it.
    expect(
        &server,
        "POST",
        "/api/network/wifi/connect",
        Some(json!({"ssid": "lab", "password": "wifi-secret"})),
        Value::Null,
    )
    .await;
    expect(
        &server,
        "POST",
        "/api/network/wifi/disconnect",
        None,
        Value::Null,
    )
    .await;
    expect(
        &server,
        "GET",
        "/api/network/dns",
        None,
        json!({"mode": "dhcp", "servers": null, "effective": ["192.168.1.1"],
               "dhcp": ["192.168.1.1"],
               "info": {"interface": "eth0", "type": "Wired", "address": "192.168.1.50/24",
                        "subnetMask": "255.255.255.0", "gateway": "192.168.1.1",
                        "searchDomains": null}}),
    )
    .await;
    expect(
        &server,
        "POST",
        "/api/network/dns",
        Some(json!({"mode": "manual", "servers": ["1.1.1.1", "2606:4700:4700::1111"]})),
        Value::Null,
    )
    .await;
    let client = client(&server);
    let network = client.network();
    assert_eq!(
        network.wifi().await.unwrap(),
        WifiStatus {
            supported: true,
            ap_mode: false,
            connected: true,
            ssid: Some("lab".to_owned())
        }
    );
    network
        .connect_wifi("lab", &SecretString::from("wifi-secret"))
        .await
        .unwrap();
    let err = network
        .connect_wifi("", &SecretString::from("x"))
        .await
        .unwrap_err();
    assert!(err.is_invalid_input());
    network.disconnect_wifi().await.unwrap();

    let dns = network.dns().await.unwrap();
    let router: IpAddr = "192.168.1.1".parse().unwrap();
    assert_eq!(dns.mode, DnsMode::Dhcp);
    assert!(dns.servers.is_empty());
    assert_eq!(dns.effective, [router]);
    assert_eq!(dns.interface.gateway, Some(router));
    assert_eq!(dns.interface.address.as_deref(), Some("192.168.1.50/24"));
    let servers = vec![
        "1.1.1.1".parse().unwrap(),
        "2606:4700:4700::1111".parse().unwrap(),
    ];
    network.set_dns(&DnsConfig::Manual(servers)).await.unwrap();
}

#[tokio::test]
async fn system_settings() {
    let server = device("2.5.1", "PCIE").await;
    expect(
        &server,
        "GET",
        "/api/vm/oled",
        None,
        json!({"exist": true, "sleep": 60}),
    )
    .await;
    expect(
        &server,
        "POST",
        "/api/vm/oled",
        Some(json!({"sleep": 0})),
        Value::Null,
    )
    .await;
    expect(&server, "GET", "/api/vm/swap", None, json!({"size": 256})).await;
    expect(
        &server,
        "POST",
        "/api/vm/swap",
        Some(json!({"size": 0})),
        Value::Null,
    )
    .await;
    expect(
        &server,
        "GET",
        "/api/vm/memory/limit",
        None,
        json!({"enabled": true, "limit": 80}),
    )
    .await;
    expect(
        &server,
        "POST",
        "/api/vm/memory/limit",
        Some(json!({"enabled": false})),
        Value::Null,
    )
    .await;
    expect(
        &server,
        "POST",
        "/api/vm/tls",
        Some(json!({"enabled": true})),
        Value::Null,
    )
    .await;
    expect(
        &server,
        "GET",
        "/api/vm/autostart",
        None,
        json!({"files": ["net.sh"]}),
    )
    .await;
    expect(
        &server,
        "GET",
        "/api/vm/autostart/net.sh",
        None,
        json!("echo hi\n"),
    )
    .await;
    expect(
        &server,
        "POST",
        "/api/vm/autostart/net.sh",
        Some(json!({"content": "echo bye\n"})),
        json!("net.sh"),
    )
    .await;
    expect(
        &server,
        "DELETE",
        "/api/vm/autostart/net.sh",
        None,
        Value::Null,
    )
    .await;
    expect(
        &server,
        "GET",
        "/api/vm/script",
        None,
        json!({"files": null}),
    )
    .await;
    expect(
        &server,
        "POST",
        "/api/vm/script/run",
        Some(json!({"name": "hello.sh", "type": "foreground"})),
        json!({"log": "hello\n"}),
    )
    .await;
    expect(
        &server,
        "DELETE",
        "/api/vm/script",
        Some(json!({"name": "hello.sh"})),
        Value::Null,
    )
    .await;
    expect(
        &server,
        "POST",
        "/api/application/preview",
        Some(json!({"enable": true})),
        Value::Null,
    )
    .await;
    expect(
        &server,
        "GET",
        "/api/application/update-server",
        None,
        json!({"enabled": true, "url": "https://updates.lan"}),
    )
    .await;
    expect(
        &server,
        "GET",
        "/api/extensions/tailscale/status",
        None,
        json!({"state": "running", "name": "kvm", "ip": "100.64.0.1", "account": ""}),
    )
    .await;
    expect(
        &server,
        "POST",
        "/api/extensions/tailscale/restart",
        None,
        Value::Null,
    )
    .await;
    let client = client(&server);
    let system = client.system();
    assert_eq!(
        system.oled().await.unwrap(),
        Some(OledSleep::After(Duration::from_secs(60)))
    );
    system.set_oled_sleep(OledSleep::Never).await.unwrap();
    assert_eq!(system.swap_mb().await.unwrap(), 256);
    system.set_swap_mb(0).await.unwrap();
    assert_eq!(system.memory_limit_mb().await.unwrap(), Some(80));
    system.set_memory_limit_mb(None).await.unwrap();
    assert!(
        system
            .set_memory_limit_mb(Some(10))
            .await
            .unwrap_err()
            .is_invalid_input()
    );
    system.enable_https().await.unwrap();
    assert_eq!(system.autostart_scripts().await.unwrap(), ["net.sh"]);
    assert_eq!(
        system.autostart_script("net.sh").await.unwrap(),
        "echo hi\n"
    );
    system
        .set_autostart_script("net.sh", "echo bye\n")
        .await
        .unwrap();
    system.delete_autostart_script("net.sh").await.unwrap();
    assert!(
        system
            .autostart_script("../etc/passwd")
            .await
            .unwrap_err()
            .is_invalid_input()
    );
    assert!(system.scripts().await.unwrap().is_empty());
    let log = system
        .run_script("hello.sh", ScriptMode::Foreground, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(log, "hello\n");
    system.delete_script("hello.sh").await.unwrap();
    system.enable_preview_updates().await.unwrap();
    assert_eq!(
        system.update_server().await.unwrap(),
        UpdateServer {
            enabled: true,
            url: "https://updates.lan".to_owned()
        }
    );
    let tailscale = system.tailscale().await.unwrap();
    assert_eq!(tailscale.state, TailscaleState::Running);
    assert_eq!(tailscale.ip.as_deref(), Some("100.64.0.1"));
    assert_eq!(tailscale.account, None);
    system
        .tailscale_action(TailscaleAction::Restart)
        .await
        .unwrap();
}

#[tokio::test]
async fn ai_control_and_the_mcp_key() {
    let server = device("2.5.0", "Beta").await;
    expect(
        &server,
        "GET",
        "/api/ai/control/status",
        None,
        json!({"mode": "picoclaw", "transitioning": false, "changed_at": "2026-01-01T00:00:00Z"}),
    )
    .await;
    Mock::given(method("PUT"))
        .and(path("/api/ai/control/mode"))
        .and(body_json(json!({"mode": "off"})))
        .respond_with(
            wiremock::ResponseTemplate::new(200)
                .set_body_json(json!({"code": -2, "message": "control mode is switching"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let key = "nag_mcp_SECRETKEYVALUE";
    expect(
        &server,
        "POST",
        "/api/mcp/config",
        Some(json!({"enabled": true})),
        json!({"enabled": true, "apiKey": key, "controlMode": "mcp", "transitioning": false}),
    )
    .await;
    let client = client(&server);
    let ai = client.ai();
    let status = ai.control_status().await.unwrap();
    assert_eq!(status.mode, ControlMode::PicoClaw);
    assert_eq!(status.last_error, None);
    // These routes put their error text under `message`.
    let err = ai.set_control_mode(&ControlMode::Off).await.unwrap_err();
    assert_eq!(err.device_code(), Some(-2));
    assert!(
        err.to_string().ends_with("control mode is switching"),
        "{err}"
    );

    let config = ai.enable_mcp().await.unwrap();
    assert!(config.enabled && config.control_mode == ControlMode::Mcp);
    assert_eq!(
        config.api_key.as_ref().map(ExposeSecret::expose_secret),
        Some(key)
    );
    assert!(!format!("{config:?}").contains("SECRETKEYVALUE"));

    let old = device("2.4.3", "Beta").await;
    let err = crate::support::client(&old)
        .ai()
        .mcp_config()
        .await
        .unwrap_err();
    assert!(err.is_not_supported(), "{err:?}");
}
