//! VM routes and the virtual machine's power state machine.

use nanokvm_sim::{FirmwareVersion, PowerState};

use crate::support::{fast, login, request, start};

#[tokio::test]
async fn short_press_boots_an_off_machine_to_its_login_prompt() {
    let sim = fast().powered_on(false).start().await.unwrap();
    let t = login(&sim).await;
    let r = request(sim.addr(), "GET", "/api/vm/gpio", Some(&t), None).await;
    assert_eq!(
        r.body,
        r#"{"code":0,"msg":"success","data":{"pwr":false,"hdd":false}}"#
    );
    let r = request(
        sim.addr(),
        "POST",
        "/api/vm/gpio",
        Some(&t),
        Some(r#"{"type":"power"}"#),
    )
    .await;
    assert_eq!(r.body, r#"{"code":0,"msg":"success","data":null}"#);
    assert!(sim.power().is_powered());
    let state = sim.wait_for(|m| m.power() == PowerState::On).await;
    assert!(state.screen_text().ends_with("target login: "));
    let r = request(sim.addr(), "GET", "/api/vm/gpio", Some(&t), None).await;
    assert_eq!(r.json()["data"]["pwr"], true);
}

#[tokio::test]
async fn short_press_shuts_down_after_a_delay_and_long_press_forces_off() {
    let sim = fast().start().await.unwrap();
    let t = login(&sim).await;
    request(
        sim.addr(),
        "POST",
        "/api/vm/gpio",
        Some(&t),
        Some(r#"{"type":"power","duration":800}"#),
    )
    .await;
    assert_eq!(sim.power(), PowerState::ShuttingDown);
    sim.wait_for(|m| m.power() == PowerState::Off).await;
    assert!(!sim.hdmi_signal());
    request(
        sim.addr(),
        "POST",
        "/api/vm/gpio",
        Some(&t),
        Some(r#"{"type":"power"}"#),
    )
    .await;
    assert_eq!(sim.power(), PowerState::Booting);
    request(
        sim.addr(),
        "POST",
        "/api/vm/gpio",
        Some(&t),
        Some(r#"{"type":"power","duration":5000}"#),
    )
    .await;
    assert_eq!(sim.power(), PowerState::Off);
    assert_eq!(sim.screen_text(), "");
}

#[tokio::test]
async fn reset_reboots_a_running_machine() {
    let sim = fast().start().await.unwrap();
    let t = login(&sim).await;
    request(
        sim.addr(),
        "POST",
        "/api/vm/gpio",
        Some(&t),
        Some(r#"{"type":"reset"}"#),
    )
    .await;
    assert_eq!(sim.power(), PowerState::Booting);
    sim.wait_for(|m| m.power() == PowerState::On).await;
}

#[tokio::test]
async fn gpio_errors_match_the_firmware() {
    let sim = fast().start().await.unwrap();
    let t = login(&sim).await;
    let r = request(
        sim.addr(),
        "POST",
        "/api/vm/gpio",
        Some(&t),
        Some(r#"{"type":"sleep"}"#),
    )
    .await;
    assert_eq!(
        r.body,
        r#"{"code":-2,"msg":"invalid power event: sleep","data":null}"#
    );
    for bad in [
        "",
        "{}",
        r#"{"type":"power","duration":-1}"#,
        r#"{"type":"power","duration":"1"}"#,
    ] {
        let r = request(sim.addr(), "POST", "/api/vm/gpio", Some(&t), Some(bad)).await;
        assert_eq!(r.json()["code"], -1, "{bad}");
        assert!(
            r.json()["msg"]
                .as_str()
                .unwrap()
                .starts_with("invalid arguments: ")
        );
    }
    assert_eq!(sim.power(), PowerState::On);
}

#[tokio::test]
async fn hdmi_shape_depends_on_the_version() {
    let cases = [
        (
            FirmwareVersion::V2_5_1,
            r#"{"enabled":true,"signal":true,"idleTimeout":0}"#,
        ),
        (
            FirmwareVersion::V2_5_0,
            r#"{"enabled":true,"idleTimeout":0}"#,
        ),
        (FirmwareVersion::V2_3_1, r#"{"enabled":true}"#),
    ];
    for (fw, data) in cases {
        let sim = start(fw).await;
        let t = login(&sim).await;
        let r = request(sim.addr(), "GET", "/api/vm/hdmi", Some(&t), None).await;
        assert_eq!(
            r.body,
            format!(r#"{{"code":0,"msg":"success","data":{data}}}"#)
        );
    }
    let sim = start(FirmwareVersion::V2_5_1).await;
    let t = login(&sim).await;
    sim.set_no_signal(true);
    let r = request(sim.addr(), "GET", "/api/vm/hdmi", Some(&t), None).await;
    assert_eq!(r.json()["data"]["signal"], false);
}

#[tokio::test]
async fn info_hardware_hostname_and_title() {
    let sim = fast().start().await.unwrap();
    let t = login(&sim).await;
    let info = request(sim.addr(), "GET", "/api/vm/info", Some(&t), None)
        .await
        .json();
    assert_eq!(info["data"]["application"], "2.5.1");
    assert_eq!(info["data"]["ips"][0]["version"], "IPv4");
    let r = request(sim.addr(), "GET", "/api/vm/hardware", Some(&t), None).await;
    assert_eq!(
        r.body,
        r#"{"code":0,"msg":"success","data":{"version":"Alpha"}}"#
    );
    let r = request(
        sim.addr(),
        "POST",
        "/api/vm/hostname",
        Some(&t),
        Some(r#"{"hostname":"kvm1"}"#),
    )
    .await;
    assert_eq!(r.json()["code"], 0);
    let r = request(sim.addr(), "GET", "/api/vm/hostname", Some(&t), None).await;
    assert_eq!(
        r.body,
        r#"{"code":0,"msg":"success","data":{"hostname":"kvm1"}}"#
    );
    let r = request(
        sim.addr(),
        "POST",
        "/api/vm/web-title",
        Some(&t),
        Some(r#"{"title":"<lab>"}"#),
    )
    .await;
    assert_eq!(r.json()["code"], 0);
    let r = request(sim.addr(), "GET", "/api/vm/web-title", Some(&t), None).await;
    assert_eq!(
        r.body,
        r#"{"code":0,"msg":"success","data":{"title":"\u003clab\u003e"}}"#
    );
}

#[tokio::test]
async fn requests_are_recorded_and_faults_fail_them() {
    let sim = fast().start().await.unwrap();
    sim.fail_next_requests(1);
    let r = request(sim.addr(), "GET", "/api/vm/gpio", None, None).await;
    assert_eq!((r.status, r.body.as_str()), (500, ""));
    let r = request(sim.addr(), "GET", "/api/vm/gpio", None, None).await;
    assert_eq!(r.status, 401);
    let log = sim.requests();
    assert_eq!(log.len(), 2);
    assert_eq!(
        (log[0].method.as_str(), log[0].path.as_str(), log[0].status),
        ("GET", "/api/vm/gpio", 500)
    );
    assert_eq!(log[1].status, 401);
}

#[tokio::test]
async fn garbage_requests_never_take_the_simulator_down() {
    let sim = fast().start().await.unwrap();
    let t = login(&sim).await;
    let huge = format!(r#"{{"type":"{}"}}"#, "x".repeat(5 << 20));
    let r = request(sim.addr(), "POST", "/api/vm/gpio", Some(&t), Some(&huge)).await;
    assert_eq!(r.json()["code"], -1);
    let r = crate::support::raw(sim.addr(), b"\x00\x01garbage\r\n\r\n").await;
    assert_eq!(r.status, 400);
    for body in [
        "null",
        "[]",
        "\"s\"",
        r#"{"type":["power"]}"#,
        "{\"type\":\"power\"",
        "\u{0}",
    ] {
        let r = request(sim.addr(), "POST", "/api/vm/gpio", Some(&t), Some(body)).await;
        assert_eq!(r.status, 200, "{body}");
    }
    let r = request(sim.addr(), "GET", "/api/vm/gpio", Some(&t), None).await;
    assert_eq!(r.json()["data"]["pwr"], true);
}
