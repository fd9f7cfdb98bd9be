//! Conformance: every route of `docs/protocol.md`, driven with raw HTTP/1.1 in every
//! kind of device (each Cube firmware version on each Cube board, and the NanoKVM Pro),
//! against the exact answer the firmware gives.
//!
//! One table ([`rows`]) lists the routes in an order that makes sense on a fresh
//! device, with the answer each kind gives (or `Absent` where the kind has no such
//! route: gin's 404). The same table drives three checks: the answers themselves (as
//! the admin, in order, so state carries from row to row), the 401 every authenticated
//! route gives without a session, and on 2.5.1 the 403 a `user` gets on every admin
//! route. The Pro's routes are in their own table ([`pro_rows`]), since its firmware
//! is another code base.

use nanokvm_sim::{Account, FirmwareVersion, Hardware, Role, Simulator};

use crate::support::{ALL, Reply, fast, login, login_as, request, request_with};

/// The Cube boards; each plays every Cube firmware version.
const CUBE: [Hardware; 3] = [Hardware::Alpha, Hardware::Beta, Hardware::Pcie];

/// Who may call a route (the reference's Role column).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Access {
    Public,
    Any,
    Admin,
}

/// The answer expected from a route.
#[derive(Clone, Debug)]
enum Want {
    /// The route does not exist in this version.
    Absent,
    /// HTTP 200 with exactly this body.
    Body(String),
    /// HTTP 200 with a body that starts with this (the rest is a timestamp or a token).
    Prefix(String),
    /// This status and exactly this body.
    Status(u16, String),
}

struct Row {
    method: &'static str,
    path: &'static str,
    body: Option<&'static str>,
    access: Access,
    want: Want,
}

fn ok(data: &str) -> Want {
    Want::Body(format!(r#"{{"code":0,"msg":"success","data":{data}}}"#))
}

fn ok_null() -> Want {
    ok("null")
}

fn err(code: i64, msg: &str) -> Want {
    Want::Body(format!(r#"{{"code":{code},"msg":"{msg}","data":null}}"#))
}

/// `want` from 2.5.0 on; absent before.
fn since_250(fw: FirmwareVersion, want: Want) -> Want {
    if fw >= FirmwareVersion::V2_5_0 {
        want
    } else {
        Want::Absent
    }
}

/// `want` on 2.5.1 only.
fn head_only(fw: FirmwareVersion, want: Want) -> Want {
    if fw == FirmwareVersion::V2_5_1 {
        want
    } else {
        Want::Absent
    }
}

/// The route table for `fw`, in the order the admin calls it.
#[allow(clippy::too_many_lines)]
fn rows(fw: FirmwareVersion, hw: Hardware) -> Vec<Row> {
    use Access::{Admin, Any};
    let hardware = format!(r#"{{"version":"{}"}}"#, hw.as_str());
    // The PCIe card has no OLED, and reports no sleep time either.
    let oled = |sleep: u32| {
        let exist = hw != Hardware::Pcie;
        let sleep = if exist { sleep } else { 0 };
        format!(r#"{{"exist":{exist},"sleep":{sleep}}}"#)
    };
    let head = fw == FirmwareVersion::V2_5_1;
    let v = fw.as_str();
    let row = |method, path, body, access, want| Row {
        method,
        path,
        body,
        access,
        want,
    };
    vec![
        // --- auth
        row(
            "POST",
            "/api/auth/login",
            Some(r#"{"username":"admin","password":"admin"}"#),
            Access::Public,
            err(-2, "invalid username or password"),
        ),
        row(
            "POST",
            "/api/auth/login",
            Some(r#"{"username":"admin"}"#),
            Access::Public,
            err(-1, "invalid parameters"),
        ),
        row("GET", "/api/auth/password", None, Any, ok(r#"{"isUpdated":false}"#)),
        row(
            "GET",
            "/api/auth/account",
            None,
            Any,
            ok(if head {
                r#"{"username":"admin","role":"admin"}"#
            } else {
                r#"{"username":"admin"}"#
            }),
        ),
        row(
            "GET",
            "/api/auth/users",
            None,
            Admin,
            head_only(
                fw,
                ok(concat!(
                    r#"{"users":[{"username":"admin","role":"admin","enabled":true,"systemAccount":true},"#,
                    r#"{"username":"viewer","role":"user","enabled":true}]}"#
                )),
            ),
        ),
        row(
            "PUT",
            "/api/auth/users/nobody",
            Some(r#"{"enabled":true}"#),
            Admin,
            head_only(fw, err(-2, "user not found")),
        ),
        row(
            "DELETE",
            "/api/auth/users/nobody",
            None,
            Admin,
            head_only(fw, err(-1, "user not found")),
        ),
        // --- vm
        row(
            "GET",
            "/api/vm/info",
            None,
            Any,
            ok(&format!(
                r#"{{"ips":[{{"name":"eth0","addr":"127.0.0.1","version":"IPv4","type":"Wired"}}],"mdns":"nanokvm-sim.local","image":"v1.4.2","application":"{v}","deviceKey":"nanokvm-sim-device-key"}}"#
            )),
        ),
        row("GET", "/api/vm/hardware", None, Any, ok(&hardware)),
        row("GET", "/api/vm/gpio", None, Any, ok(r#"{"pwr":true,"hdd":false}"#)),
        row(
            "POST",
            "/api/vm/gpio",
            Some(r#"{"type":"sleep"}"#),
            Any,
            err(-2, "invalid power event: sleep"),
        ),
        row(
            "GET",
            "/api/vm/hdmi",
            None,
            Any,
            ok(match fw {
                FirmwareVersion::V2_5_1 => r#"{"enabled":true,"signal":true,"idleTimeout":0}"#,
                FirmwareVersion::V2_5_0 => r#"{"enabled":true,"idleTimeout":0}"#,
                _ => r#"{"enabled":true}"#,
            }),
        ),
        row(
            "POST",
            "/api/vm/hdmi/timeout",
            Some(r#"{"minutes":10081}"#),
            Admin,
            since_250(fw, err(-1, "invalid arguments")),
        ),
        row(
            "POST",
            "/api/vm/hdmi/timeout",
            Some(r#"{"minutes":0}"#),
            Admin,
            since_250(fw, ok_null()),
        ),
        row("POST", "/api/vm/hdmi/enable", None, Admin, ok_null()),
        row("POST", "/api/vm/hdmi/reset", None, Any, ok_null()),
        row(
            "POST",
            "/api/vm/screen",
            Some(r#"{"type":"fps","value":30}"#),
            Any,
            ok_null(),
        ),
        row(
            "POST",
            "/api/vm/screen",
            Some(r#"{"type":"nope","value":1}"#),
            Any,
            err(-2, "update screen failed"),
        ),
        row(
            "POST",
            "/api/vm/screen",
            Some(r#"{"value":1}"#),
            Any,
            err(-1, "invalid arguments"),
        ),
        row("GET", "/api/vm/hostname", None, Any, ok(r#"{"hostname":"nanokvm-sim"}"#)),
        row("GET", "/api/vm/web-title", None, Any, ok(r#"{"title":""}"#)),
        row(
            "POST",
            "/api/vm/web-title",
            Some(r#"{"title":"Lab <1>"}"#),
            Admin,
            ok_null(),
        ),
        row(
            "GET",
            "/api/vm/web-title",
            None,
            Any,
            ok(r#"{"title":"Lab \u003c1\u003e"}"#),
        ),
        row(
            "GET",
            "/api/vm/mouse-jiggler",
            None,
            Admin,
            ok(r#"{"enabled":false,"mode":"relative"}"#),
        ),
        row(
            "POST",
            "/api/vm/mouse-jiggler/",
            Some(r#"{"enabled":true,"mode":"absolute"}"#),
            Admin,
            ok_null(),
        ),
        row(
            "GET",
            "/api/vm/mouse-jiggler",
            None,
            Admin,
            ok(r#"{"enabled":true,"mode":"absolute"}"#),
        ),
        row("GET", "/api/vm/ssh", None, Admin, ok(r#"{"enabled":true}"#)),
        row("POST", "/api/vm/ssh/disable", None, Admin, ok_null()),
        row("GET", "/api/vm/ssh", None, Admin, ok(r#"{"enabled":false}"#)),
        row("GET", "/api/vm/mdns", None, Admin, ok(r#"{"enabled":true}"#)),
        row(
            "GET",
            "/api/vm/device/virtual",
            None,
            Admin,
            ok(r#"{"network":false,"media":false,"disk":true}"#),
        ),
        // --- hid
        row("GET", "/api/hid/mode", None, Any, ok(r#"{"mode":"normal"}"#)),
        row(
            "POST",
            "/api/hid/mode",
            Some(r#"{"mode":"normal"}"#),
            Admin,
            ok_null(),
        ),
        row(
            "POST",
            "/api/hid/mode",
            Some(r#"{"mode":"bogus"}"#),
            Admin,
            err(-2, "invalid arguments"),
        ),
        row(
            "GET",
            "/api/hid/leds",
            None,
            Any,
            since_250(
                fw,
                Want::Prefix(
                    r#"{"code":0,"msg":"success","data":{"numLock":false,"capsLock":false,"scrollLock":false,"known":true,"updatedAt":""#
                        .to_owned(),
                ),
            ),
        ),
        row(
            "GET",
            "/api/hid/shortcuts",
            None,
            Any,
            since_250(fw, ok(r#"{"shortcuts":[]}"#)),
        ),
        row(
            "GET",
            "/api/hid/shortcut/leader-key",
            None,
            Any,
            since_250(fw, ok(r#"{"key":""}"#)),
        ),
        row(
            "POST",
            "/api/hid/shortcut/leader-key",
            Some(r#"{"key":"ScrollLock"}"#),
            Admin,
            since_250(fw, ok_null()),
        ),
        row(
            "DELETE",
            "/api/hid/shortcut",
            Some(r#"{"id":""}"#),
            Admin,
            since_250(fw, err(-1, "invalid arguments")),
        ),
        row(
            "DELETE",
            "/api/hid/shortcut",
            Some(r#"{"id":"none"}"#),
            Admin,
            since_250(fw, err(-2, "shortcut not found")),
        ),
        row(
            "POST",
            "/api/hid/paste",
            Some(r#"{"content":"ok\n"}"#),
            Any,
            ok_null(),
        ),
        row(
            "POST",
            "/api/hid/paste",
            Some(r#"{"content":""}"#),
            Any,
            err(-1, "invalid arguments"),
        ),
        // --- streams
        row(
            "POST",
            "/api/stream/mjpeg/detect",
            Some(r#"{"enabled":false}"#),
            Any,
            ok_null(),
        ),
        // --- storage
        row(
            "GET",
            "/api/storage/image",
            None,
            Admin,
            ok(r#"{"files":["/data/a.iso","/data/sub/b.img"]}"#),
        ),
        row(
            "GET",
            "/api/storage/image/mounted",
            None,
            Admin,
            ok(r#"{"file":""}"#),
        ),
        row(
            "POST",
            "/api/storage/image/mount",
            Some(r#"{"file":"/data/a.iso","cdrom":true}"#),
            Admin,
            ok_null(),
        ),
        row(
            "GET",
            "/api/storage/image/mounted",
            None,
            Admin,
            ok(r#"{"file":"/data/a.iso"}"#),
        ),
        row("GET", "/api/storage/cdrom", None, Admin, ok(r#"{"cdrom":1}"#)),
        row(
            "POST",
            "/api/storage/image/mount",
            Some("{}"),
            Admin,
            ok_null(),
        ),
        row("GET", "/api/storage/cdrom", None, Admin, ok(r#"{"cdrom":0}"#)),
        row(
            "POST",
            "/api/storage/image/delete",
            Some(r#"{"file":"/etc/passwd"}"#),
            Admin,
            err(-2, "invalid arguments"),
        ),
        row(
            "POST",
            "/api/storage/image/delete",
            Some(r#"{"file":"/data/sub/b.img"}"#),
            Admin,
            ok_null(),
        ),
        row(
            "GET",
            "/api/storage/image",
            None,
            Admin,
            ok(r#"{"files":["/data/a.iso"]}"#),
        ),
        // --- downloads
        row(
            "GET",
            "/api/download/image/enabled",
            None,
            Admin,
            ok(r#"{"enabled":true}"#),
        ),
        row(
            "GET",
            "/api/download/image/status",
            None,
            Admin,
            ok(r#"{"status":"idle","file":"","percentage":""}"#),
        ),
        row(
            "POST",
            "/api/download/image",
            Some(r#"{"file":"nope"}"#),
            Admin,
            err(-1, "invalid url"),
        ),
        row(
            "POST",
            "/api/download/image/cancel",
            None,
            Admin,
            since_250(fw, err(-1, "no cancellable download in progress")),
        ),
        row(
            "POST",
            "/api/download/file",
            None,
            Admin,
            err(-1, "invalid multipart data"),
        ),
        // --- network
        row(
            "POST",
            "/api/network/wol",
            Some(r#"{"mac":"aa-bb-cc-dd-ee-ff"}"#),
            Any,
            ok_null(),
        ),
        row(
            "POST",
            "/api/network/wol",
            Some(r#"{"mac":"xyz"}"#),
            Any,
            err(-2, "invalid MAC address"),
        ),
        row(
            "POST",
            "/api/network/wol/mac/name",
            Some(r#"{"mac":"AA:BB:CC:DD:EE:FF","name":"  Office   PC "}"#),
            Admin,
            ok_null(),
        ),
        row(
            "GET",
            "/api/network/wol/mac",
            None,
            Any,
            ok(r#"{"macs":["AA:BB:CC:DD:EE:FF Office PC"]}"#),
        ),
        row(
            "DELETE",
            "/api/network/wol/mac",
            Some(r#"{"mac":"AA:BB:CC:DD:EE:FF"}"#),
            Admin,
            ok_null(),
        ),
        row("GET", "/api/network/wol/mac", None, Any, ok(r#"{"macs":[]}"#)),
        row(
            "DELETE",
            "/api/network/wol/mac",
            Some(r#"{"mac":""}"#),
            Admin,
            err(-1, "invalid arguments"),
        ),
        // --- application
        row(
            "GET",
            "/api/application/version",
            None,
            Admin,
            if head {
                err(-1, "failed to query latest version")
            } else {
                ok(&format!(r#"{{"current":"{v}","latest":""}}"#))
            },
        ),
        row(
            "GET",
            "/api/application/preview",
            None,
            Admin,
            ok(r#"{"enabled":false}"#),
        ),
        row(
            "GET",
            "/api/application/update-server",
            None,
            Admin,
            head_only(
                fw,
                ok(r#"{"enabled":false,"url":"https://cdn.sipeed.com/nanokvm"}"#),
            ),
        ),
        // --- housekeeping
        row("GET", "/api/vm/swap", None, Admin, ok(r#"{"size":0}"#)),
        row("POST", "/api/vm/swap", Some(r#"{"size":-5}"#), Admin, err(-4, "enable swap failed")),
        row("POST", "/api/vm/swap", Some(r#"{"size":"big"}"#), Admin, err(-1, "invalid arguments")),
        row("POST", "/api/vm/swap", Some(r#"{"size":128}"#), Admin, ok_null()),
        row("GET", "/api/vm/swap", None, Admin, ok(r#"{"size":128}"#)),
        row(
            "GET",
            "/api/vm/memory/limit",
            None,
            Admin,
            ok(r#"{"enabled":false,"limit":0}"#),
        ),
        row(
            "POST",
            "/api/vm/memory/limit",
            Some(r#"{"enabled":true,"limit":64}"#),
            Admin,
            ok_null(),
        ),
        row(
            "GET",
            "/api/vm/memory/limit",
            None,
            Admin,
            ok(r#"{"enabled":true,"limit":64}"#),
        ),
        row("GET", "/api/vm/oled", None, Admin, ok(&oled(0))),
        row("POST", "/api/vm/oled", Some(r#"{"sleep":60}"#), Admin, ok_null()),
        row("GET", "/api/vm/oled", None, Admin, ok(&oled(60))),
        row(
            "GET",
            "/api/vm/autostart",
            None,
            Admin,
            err(-1, "get autostart directory fail"),
        ),
        row(
            "POST",
            "/api/vm/autostart/boot.sh",
            Some(r#"{"content":"echo <hi>"}"#),
            Admin,
            ok(r#""boot.sh""#),
        ),
        row("GET", "/api/vm/autostart", None, Admin, ok(r#"{"files":["boot.sh"]}"#)),
        row(
            "GET",
            "/api/vm/autostart/boot.sh",
            None,
            Admin,
            ok(r#""echo \u003chi\u003e""#),
        ),
        row("GET", "/api/vm/autostart/..", None, Admin, err(-1, "read file fail")),
        row("GET", "/api/vm/autostart/..%2Fpwd", None, Admin, Want::Absent),
        row("DELETE", "/api/vm/autostart/boot.sh", None, Admin, ok_null()),
        row(
            "DELETE",
            "/api/vm/autostart/boot.sh",
            None,
            Admin,
            err(-3, "remove file fail"),
        ),
        row("GET", "/api/vm/autostart", None, Admin, ok(r#"{"files":null}"#)),
        row("GET", "/api/vm/script", None, Admin, err(-1, "get scripts failed")),
        row(
            "POST",
            "/api/vm/script/upload",
            Some("{}"),
            Admin,
            err(-1, "bad request"),
        ),
        row(
            "POST",
            "/api/vm/script/run",
            Some(r#"{"name":"x.sh"}"#),
            Admin,
            err(-1, "invalid arguments"),
        ),
        row(
            "POST",
            "/api/vm/script/run",
            Some(r#"{"name":"x.sh","type":"foreground"}"#),
            Admin,
            err(-2, "run script failed"),
        ),
        row(
            "POST",
            "/api/vm/script/run",
            Some(r#"{"name":"x.sh","type":"background"}"#),
            Admin,
            ok(r#"{"log":""}"#),
        ),
        row(
            "DELETE",
            "/api/vm/script",
            Some(r#"{"name":"../../etc/passwd"}"#),
            Admin,
            err(-3, "delete failed"),
        ),
        row(
            "GET",
            "/api/vm/terminal",
            None,
            Admin,
            Want::Status(400, "Bad Request\n".to_owned()),
        ),
        row(
            "GET",
            "/api/ws",
            None,
            Any,
            Want::Status(400, "Bad Request\n".to_owned()),
        ),
        row(
            "GET",
            "/api/stream/h264/direct",
            None,
            Any,
            Want::Status(400, "Bad Request\n".to_owned()),
        ),
        // --- wifi and dns
        row(
            "GET",
            "/api/network/wifi",
            None,
            Admin,
            ok(r#"{"supported":false,"apMode":false,"connected":false,"ssid":""}"#),
        ),
        row(
            "POST",
            "/api/network/wifi",
            Some(r#"{"ssid":"a","password":"b"}"#),
            Access::Public,
            err(-1, "invalid mode"),
        ),
        row(
            "POST",
            "/api/network/wifi/verify",
            None,
            Access::Public,
            since_250(fw, err(-1, "invalid mode")),
        ),
        row(
            "POST",
            "/api/network/wifi/connect",
            Some(r#"{"ssid":"a"}"#),
            Admin,
            err(-1, "invalid parameters"),
        ),
        row(
            "POST",
            "/api/network/wifi/connect",
            Some(r#"{"ssid":"a","password":"b"}"#),
            Admin,
            err(-3, "failed to get wifi status"),
        ),
        row("POST", "/api/network/wifi/disconnect", None, Admin, ok_null()),
        row(
            "GET",
            "/api/network/dns",
            None,
            Admin,
            since_250(fw, ok(concat!(
                r#"{"mode":"dhcp","servers":null,"effective":["127.0.0.1"],"dhcp":["127.0.0.1"],"#,
                r#""info":{"interface":"eth0","type":"Wired","address":"127.0.0.1","subnetMask":"255.0.0.0","gateway":"127.0.0.1","searchDomains":null}}"#
            ))),
        ),
        row(
            "POST",
            "/api/network/dns",
            Some(r#"{"mode":"manual","servers":["nope"]}"#),
            Admin,
            since_250(fw, err(-2, "invalid dns server: nope")),
        ),
        row(
            "POST",
            "/api/network/dns",
            Some(r#"{"mode":"manual","servers":[" "]}"#),
            Admin,
            since_250(fw, err(-2, "dns servers are required")),
        ),
        row(
            "POST",
            "/api/network/dns",
            Some(r#"{"mode":"auto"}"#),
            Admin,
            since_250(fw, err(-1, "invalid arguments")),
        ),
        row(
            "POST",
            "/api/network/dns",
            Some(r#"{"mode":"manual","servers":["9.9.9.9"," 9.9.9.9","::1"]}"#),
            Admin,
            since_250(fw, ok_null()),
        ),
        row(
            "GET",
            "/api/network/dns",
            None,
            Admin,
            since_250(fw, Want::Prefix(
                r#"{"code":0,"msg":"success","data":{"mode":"manual","servers":["9.9.9.9","::1"],"effective":["9.9.9.9","::1"],"#
                    .to_owned(),
            )),
        ),
        // --- extensions
        row(
            "GET",
            "/api/extensions/tailscale/status",
            None,
            Admin,
            ok(r#"{"state":"notInstall","name":"","ip":"","account":""}"#),
        ),
        row(
            "POST",
            "/api/extensions/tailscale/install",
            None,
            Admin,
            err(-1, "install failed"),
        ),
        row(
            "POST",
            "/api/extensions/tailscale/up",
            None,
            Admin,
            err(-1, "tailscale up failed"),
        ),
        row(
            "POST",
            "/api/extensions/tailscale/login",
            None,
            Admin,
            err(-1, "unknown status"),
        ),
        row("POST", "/api/extensions/tailscale/uninstall", None, Admin, ok_null()),
        // --- routing rules
        row(
            "POST",
            "/api/vm/mouse-jiggler",
            Some("{}"),
            Admin,
            Want::Status(307, String::new()),
        ),
        row("GET", "/api/vm/screen", None, Any, Want::Absent),
        row("GET", "/api/nothing/here", None, Any, Want::Absent),
        // --- last, because switching TLS restarts the server and ends the session
        row(
            "POST",
            "/api/vm/tls",
            Some(r#"{"enabled":"yes"}"#),
            Admin,
            err(
                -1,
                "invalid arguments: json: cannot unmarshal string into Go struct field SetTlsReq.Enabled of type bool",
            ),
        ),
        row("POST", "/api/vm/tls", Some(r#"{"enabled":false}"#), Admin, ok_null()),
    ]
}

async fn call(sim: &Simulator, row: &Row, cookie: Option<&str>) -> Reply {
    request(sim.addr(), row.method, row.path, cookie, row.body).await
}

/// An admin on a fresh simulator, with two images in its data directory.
async fn device(fw: FirmwareVersion) -> (Simulator, String) {
    device_on(fw, Hardware::Alpha).await
}

/// [`device`] on the board `hw`.
async fn device_on(fw: FirmwareVersion, hw: Hardware) -> (Simulator, String) {
    let sim = fast()
        .firmware(fw)
        .hardware(hw)
        .account(Account::new("viewer", "viewer-pass", Role::User))
        .start()
        .await
        .unwrap();
    std::fs::write(sim.data_dir().join("a.iso"), [0u8; 2048]).unwrap();
    std::fs::create_dir(sim.data_dir().join("sub")).unwrap();
    std::fs::write(sim.data_dir().join("sub/b.img"), [0u8; 512]).unwrap();
    let token = login(&sim).await;
    (sim, token)
}

fn check(fw: FirmwareVersion, row: &Row, r: &Reply) {
    let what = format!("{fw} {} {}", row.method, row.path);
    match &row.want {
        Want::Absent => {
            assert_eq!(
                (r.status, r.body.as_str()),
                (404, "404 page not found"),
                "{what}"
            );
            assert_eq!(r.header("content-type"), Some("text/plain"), "{what}");
        }
        Want::Body(body) => {
            assert_eq!((r.status, &r.body), (200, body), "{what}");
            assert_eq!(
                r.header("content-type"),
                Some("application/json; charset=utf-8"),
                "{what}"
            );
        }
        Want::Prefix(prefix) => {
            assert_eq!(r.status, 200, "{what}");
            assert!(r.body.starts_with(prefix.as_str()), "{what}: {}", r.body);
        }
        Want::Status(status, body) => {
            assert_eq!((r.status, &r.body), (*status, body), "{what}");
        }
    }
}

#[tokio::test]
async fn every_route_answers_as_the_firmware_does() {
    for hw in CUBE {
        for fw in ALL {
            let (sim, token) = device_on(fw, hw).await;
            for row in rows(fw, hw) {
                let r = call(&sim, &row, Some(&token)).await;
                check(fw, &row, &r);
            }
            // State the table changed, seen from the simulator's side.
            assert_eq!(sim.mounted_image(), None);
            assert_eq!(sim.wol_packets().len(), 1);
            let text = sim.screen_text();
            assert!(
                text.ends_with("target login: ok\nPassword: "),
                "{fw}: {text:?}"
            );
            sim.shutdown().await.unwrap();
        }
    }
}

#[tokio::test]
async fn every_authenticated_route_answers_401_without_a_session() {
    for fw in ALL {
        let (sim, _) = device(fw).await;
        for row in rows(fw, Hardware::Alpha) {
            // Redirects happen before the route, and its session check, is known.
            if matches!(row.want, Want::Absent | Want::Status(307, _))
                || row.access == Access::Public
            {
                continue;
            }
            let r = call(&sim, &row, None).await;
            let what = format!("{fw} {} {}", row.method, row.path);
            assert_eq!(
                (r.status, r.body.as_str()),
                (401, "\"unauthorized\""),
                "{what}"
            );
            assert_eq!(
                r.header("content-type"),
                Some("application/json; charset=utf-8"),
                "{what}"
            );
            // A token that does not verify is no session either.
            let r = call(&sim, &row, Some("eyJhbGciOiJIUzI1NiJ9.e30.AAAA")).await;
            assert_eq!(r.status, 401, "{what}");
        }
        // Nothing was done on the device's behalf.
        assert!(sim.hid_reports().is_empty(), "{fw}");
        assert!(sim.wol_packets().is_empty(), "{fw}");
        assert!(sim.data_dir().join("a.iso").exists());
        assert!(sim.data_dir().join("sub/b.img").exists());
    }
}

#[tokio::test]
async fn users_get_403_on_every_admin_route_of_2_5_1() {
    let (sim, _) = device(FirmwareVersion::V2_5_1).await;
    let user = login_as(&sim, "viewer", "viewer-pass").await;
    for row in rows(FirmwareVersion::V2_5_1, Hardware::Alpha) {
        if matches!(row.want, Want::Absent) {
            continue;
        }
        let what = format!("{} {}", row.method, row.path);
        match row.access {
            Access::Admin => {
                // Redirects happen before the route (and its role) is known.
                if matches!(row.want, Want::Status(307, _)) {
                    continue;
                }
                let r = call(&sim, &row, Some(&user)).await;
                assert_eq!(
                    (r.status, r.body.as_str()),
                    (403, "\"forbidden\""),
                    "{what}"
                );
            }
            Access::Any if row.method == "GET" => {
                let r = call(&sim, &row, Some(&user)).await;
                if let Want::Status(status, body) = &row.want {
                    assert_eq!((r.status, &r.body), (*status, body), "{what}");
                } else {
                    assert_eq!(r.status, 200, "{what}");
                    assert!(r.body.starts_with(r#"{"code":"#), "{what}: {}", r.body);
                }
            }
            _ => {}
        }
    }
    let r = request(sim.addr(), "GET", "/api/auth/account", Some(&user), None).await;
    assert_eq!(
        r.body,
        r#"{"code":0,"msg":"success","data":{"username":"viewer","role":"user"}}"#
    );
    assert!(sim.data_dir().join("sub/b.img").exists());
}

#[tokio::test]
async fn login_and_logout_shapes_per_version() {
    for fw in ALL {
        let (sim, token) = device(fw).await;
        let r = request(sim.addr(), "POST", "/api/auth/logout", Some(&token), None).await;
        assert_eq!(r.body, r#"{"code":0,"msg":"success","data":null}"#, "{fw}");
        if fw == FirmwareVersion::V2_5_1 {
            let cookie = r.header("set-cookie").unwrap_or("");
            assert!(cookie.starts_with("nano-kvm-token=;"), "{cookie}");
            assert!(
                cookie.contains("Max-Age=0") || cookie.contains("Max-Age=-1"),
                "{cookie}"
            );
        } else {
            assert_eq!(r.header("set-cookie"), None, "{fw}");
        }
        // The session is gone in every version.
        let r = request(sim.addr(), "GET", "/api/vm/info", Some(&token), None).await;
        assert_eq!(
            (r.status, r.body.as_str()),
            (401, "\"unauthorized\""),
            "{fw}"
        );
    }
}

/// The NanoKVM Pro's routes (firmware 1.2.13), in the order the admin calls them. Every
/// route needs only a session (one account, no roles); the Cube routes the Pro lacks
/// are listed as `Absent`.
#[allow(clippy::too_many_lines)]
fn pro_rows() -> Vec<Row> {
    use Access::Any;
    let row = |method, path, body, want| Row {
        method,
        path,
        body,
        access: Any,
        want,
    };
    let too_long: &'static str =
        Box::leak(format!(r#"{{"content":"{}"}}"#, "a".repeat(1025)).into_boxed_str());
    vec![
        // --- auth: the password travels in plaintext.
        Row {
            access: Access::Public,
            ..row(
                "POST",
                "/api/auth/login",
                Some(r#"{"username":"admin","password":"wrong"}"#),
                err(-2, "invalid username or password"),
            )
        },
        Row {
            access: Access::Public,
            ..row(
                "POST",
                "/api/auth/login",
                Some(r#"{"username":"admin"}"#),
                err(-1, "invalid parameters"),
            )
        },
        row(
            "GET",
            "/api/auth/password",
            None,
            ok(r#"{"isUpdated":false}"#),
        ),
        row(
            "GET",
            "/api/auth/account",
            None,
            ok(r#"{"username":"admin"}"#),
        ),
        row("GET", "/api/auth/users", None, Want::Absent),
        // --- vm
        row(
            "GET",
            "/api/vm/info",
            None,
            ok(concat!(
                r#"{"ips":[{"name":"eth0","addr":"127.0.0.1","version":"IPv4","type":"Wired"}],"#,
                r#""mdns":"nanokvm-sim.local","image":"v1.1.0","application":"1.2.13","#,
                r#""deviceKey":"nanokvm-sim-device-key","pn":"NanoKVM-Pro-Desk","arch":"aarch64"}"#
            )),
        ),
        row("GET", "/api/vm/hardware", None, ok(r#"{"version":"Pro"}"#)),
        row(
            "GET",
            "/api/vm/gpio",
            None,
            ok(r#"{"pwr":true,"hdd":false}"#),
        ),
        row(
            "POST",
            "/api/vm/gpio",
            Some(r#"{"type":"sleep"}"#),
            err(-2, "invalid power event: sleep"),
        ),
        row("GET", "/api/vm/hdmi", None, Want::Absent),
        row("POST", "/api/vm/hdmi/reset", None, Want::Absent),
        row(
            "POST",
            "/api/vm/hdmi/timeout",
            Some(r#"{"minutes":0}"#),
            Want::Absent,
        ),
        row(
            "POST",
            "/api/vm/screen",
            Some(r#"{"type":"fps","value":30}"#),
            Want::Absent,
        ),
        row(
            "GET",
            "/api/vm/hdmi/capture",
            None,
            ok(r#"{"enabled":true}"#),
        ),
        row(
            "POST",
            "/api/vm/hdmi/capture",
            Some(r#"{"enabled":false}"#),
            ok_null(),
        ),
        row(
            "GET",
            "/api/vm/hdmi/capture",
            None,
            ok(r#"{"enabled":false}"#),
        ),
        row(
            "POST",
            "/api/vm/hdmi/capture",
            Some(r#"{"enabled":true}"#),
            ok_null(),
        ),
        row(
            "GET",
            "/api/vm/hdmi/passthrough",
            None,
            ok(r#"{"enabled":true}"#),
        ),
        row(
            "POST",
            "/api/vm/hdmi/passthrough",
            Some(r#"{"enabled":false}"#),
            ok_null(),
        ),
        row(
            "GET",
            "/api/vm/hdmi/passthrough",
            None,
            ok(r#"{"enabled":false}"#),
        ),
        row(
            "GET",
            "/api/vm/hostname",
            None,
            ok(r#"{"hostname":"nanokvm-sim"}"#),
        ),
        row(
            "GET",
            "/api/vm/mouse-jiggler",
            None,
            ok(r#"{"enabled":false,"mode":"relative"}"#),
        ),
        row("GET", "/api/vm/ssh", None, ok(r#"{"enabled":true}"#)),
        row("GET", "/api/vm/swap", None, Want::Absent),
        row("GET", "/api/vm/autostart", None, Want::Absent),
        row(
            "POST",
            "/api/vm/tls",
            Some(r#"{"enabled":false}"#),
            Want::Absent,
        ),
        // --- stream settings
        row(
            "POST",
            "/api/stream/mode",
            Some(r#"{"mode":"H265-direct"}"#),
            ok_null(),
        ),
        row(
            "POST",
            "/api/stream/mode",
            Some(r#"{"mode":"vp9"}"#),
            err(-2, "invalid arguments"),
        ),
        row(
            "POST",
            "/api/stream/mode",
            Some("{}"),
            err(-1, "invalid arguments"),
        ),
        row(
            "POST",
            "/api/stream/quality",
            Some(r#"{"quality":80}"#),
            ok_null(),
        ),
        row(
            "POST",
            "/api/stream/quality",
            Some(r#"{"quality":30000}"#),
            err(-2, "invalid arguments"),
        ),
        row(
            "POST",
            "/api/stream/gop",
            Some(r#"{"gop":201}"#),
            err(-2, "invalid arguments"),
        ),
        row("POST", "/api/stream/gop", Some(r#"{"gop":30}"#), ok_null()),
        row(
            "POST",
            "/api/stream/fps",
            Some(r#"{"fps":121}"#),
            err(-2, "invalid arguments"),
        ),
        row("POST", "/api/stream/fps", Some(r#"{"fps":30}"#), ok_null()),
        row(
            "POST",
            "/api/stream/rate-control",
            Some(r#"{"mode":"VBR"}"#),
            ok_null(),
        ),
        row(
            "POST",
            "/api/stream/rate-control",
            Some(r#"{"mode":"abr"}"#),
            err(-2, "invalid arguments"),
        ),
        row(
            "POST",
            "/api/stream/mjpeg/detect",
            Some(r#"{"enabled":true}"#),
            Want::Absent,
        ),
        // --- hid
        row("GET", "/api/hid/mode", None, ok(r#"{"mode":"normal"}"#)),
        row("GET", "/api/hid/leds", None, Want::Absent),
        row("GET", "/api/hid/shortcuts", None, ok(r#"{"shortcuts":[]}"#)),
        // `langue` is not a field of the Pro's paste: German is typed with the US map.
        row(
            "POST",
            "/api/hid/paste",
            Some(r#"{"content":"ok\n","langue":"de"}"#),
            ok_null(),
        ),
        row(
            "POST",
            "/api/hid/paste",
            Some(too_long),
            err(-2, "content too long"),
        ),
        // --- storage
        row(
            "GET",
            "/api/storage/image",
            None,
            ok(r#"{"files":["/data/a.iso","/data/sub/b.img"]}"#),
        ),
        row(
            "POST",
            "/api/storage/image/mount",
            Some(r#"{"file":"/data/a.iso","cdrom":true}"#),
            ok_null(),
        ),
        row(
            "GET",
            "/api/storage/image/mounted",
            None,
            ok(r#"{"file":"/data/a.iso","cdrom":true,"readOnly":true}"#),
        ),
        row(
            "POST",
            "/api/storage/image/mount",
            Some(r#"{"file":"/data/nope.iso","readOnly":true}"#),
            err(-6, "mount image failed"),
        ),
        row(
            "GET",
            "/api/storage/image/mounted",
            None,
            ok(r#"{"file":"/data/a.iso","cdrom":false,"readOnly":true}"#),
        ),
        row(
            "POST",
            "/api/storage/image/mount",
            Some(r#"{"file":""}"#),
            ok_null(),
        ),
        row(
            "GET",
            "/api/storage/image/mounted",
            None,
            ok(r#"{"file":"","cdrom":false,"readOnly":true}"#),
        ),
        row("GET", "/api/storage/cdrom", None, Want::Absent),
        row("GET", "/api/download/image/status", None, Want::Absent),
        // --- network and application
        row("GET", "/api/network/wol/mac", None, ok(r#"{"macs":[]}"#)),
        row("GET", "/api/network/dns", None, Want::Absent),
        row("GET", "/api/application/update-server", None, Want::Absent),
        // Offline, the Pro reports its own version as the latest.
        row(
            "GET",
            "/api/application/version",
            None,
            ok(r#"{"current":"1.2.13","latest":"1.2.13"}"#),
        ),
        row(
            "GET",
            "/api/application/preview",
            None,
            ok(r#"{"enabled":false}"#),
        ),
    ]
}

/// Routes the Pro serves with handlers carried over from the Cube code base: they are
/// checked against the Cube 2.5.0 answers (2.5.0 being single-user, as the Pro is).
/// The Pro's own handlers for these were read for their shapes, not line by line.
const PRO_SHARED: &[&str] = &[
    "/api/vm/hostname",
    "/api/vm/web-title",
    "/api/vm/mouse-jiggler",
    "/api/vm/mouse-jiggler/",
    "/api/vm/ssh",
    "/api/vm/ssh/disable",
    "/api/vm/mdns",
    "/api/vm/script",
    "/api/vm/script/upload",
    "/api/vm/script/run",
    "/api/hid/mode",
    "/api/hid/shortcuts",
    "/api/hid/shortcut",
    "/api/hid/shortcut/leader-key",
    "/api/network/wol",
    "/api/network/wol/mac",
    "/api/network/wol/mac/name",
    "/api/network/wifi",
    "/api/network/wifi/connect",
    "/api/network/wifi/disconnect",
    "/api/application/preview",
    "/api/extensions/tailscale/status",
    "/api/extensions/tailscale/install",
    "/api/extensions/tailscale/uninstall",
    "/api/extensions/tailscale/up",
    "/api/extensions/tailscale/login",
];

/// The Pro's own rows, then the rows it shares with the Cube.
fn pro_table() -> Vec<Row> {
    let mut table = pro_rows();
    let shared: Vec<Row> = rows(FirmwareVersion::V2_5_0, Hardware::Alpha)
        .into_iter()
        .filter(|row| PRO_SHARED.contains(&row.path))
        .collect();
    assert!(shared.len() > 30, "{} shared rows", shared.len());
    table.extend(shared);
    table
}

/// Headers that make a request come from a remote client as gin sees it.
const REMOTE: &str = "X-Forwarded-For: 203.0.113.9";

/// A Pro on a fresh simulator with two images, and a session from a plaintext login.
async fn pro_device() -> (Simulator, String) {
    let sim = fast().hardware(Hardware::Pro).start().await.unwrap();
    assert_eq!(sim.firmware(), FirmwareVersion::Pro1_2_13);
    std::fs::write(sim.data_dir().join("a.iso"), [0u8; 2048]).unwrap();
    std::fs::create_dir(sim.data_dir().join("sub")).unwrap();
    std::fs::write(sim.data_dir().join("sub/b.img"), [0u8; 512]).unwrap();
    let r = request(
        sim.addr(),
        "POST",
        "/api/auth/login",
        None,
        Some(r#"{"username":"admin","password":"admin"}"#),
    )
    .await;
    let json = r.json();
    assert_eq!(json["data"]["count"], 0, "{}", r.body);
    assert_eq!(r.header("set-cookie"), None, "the Pro sets no cookie");
    let token = json["data"]["token"].as_str().unwrap().to_owned();
    (sim, token)
}

#[tokio::test]
async fn every_pro_route_answers_as_the_pro_firmware_does() {
    let (sim, token) = pro_device().await;
    let bearer = format!("Authorization: Bearer {token}");
    for row in pro_table() {
        // From a remote address, with the token as a bearer header.
        let r = request_with(
            sim.addr(),
            row.method,
            row.path,
            None,
            row.body,
            &[REMOTE, &bearer],
        )
        .await;
        check(FirmwareVersion::Pro1_2_13, &row, &r);
    }
    assert_eq!(sim.mounted_image(), None);
    assert!(sim.screen_text().ends_with("target login: ok\nPassword: "));
    sim.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_pro_wants_a_session_only_from_remote_clients() {
    let (sim, token) = pro_device().await;
    for row in pro_table() {
        // Redirects happen before the route, and its session check, is known.
        if matches!(row.want, Want::Absent | Want::Status(307, _)) || row.access == Access::Public {
            continue;
        }
        let what = format!("{} {}", row.method, row.path);
        let r = request_with(sim.addr(), row.method, row.path, None, row.body, &[REMOTE]).await;
        assert_eq!(
            (r.status, r.body.as_str()),
            (401, "\"unauthorized\""),
            "{what}"
        );
        let r = request_with(
            sim.addr(),
            row.method,
            row.path,
            None,
            row.body,
            &[
                REMOTE,
                "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.AAAA",
            ],
        )
        .await;
        assert_eq!(r.status, 401, "{what}: a token that does not verify");
    }
    assert!(sim.hid_reports().is_empty());
    // The cookie works as well as the bearer header; a loopback client needs neither.
    let r = request_with(
        sim.addr(),
        "GET",
        "/api/vm/hardware",
        Some(&token),
        None,
        &[REMOTE],
    )
    .await;
    assert_eq!(r.status, 200);
    let r = request(sim.addr(), "GET", "/api/vm/hardware", None, None).await;
    assert_eq!(
        r.body,
        r#"{"code":0,"msg":"success","data":{"version":"Pro"}}"#
    );
    // Logout regenerates the secret: the token dies.
    let r = request_with(
        sim.addr(),
        "POST",
        "/api/auth/logout",
        Some(&token),
        None,
        &[REMOTE],
    )
    .await;
    assert_eq!(r.body, r#"{"code":0,"msg":"success","data":null}"#);
    let r = request_with(
        sim.addr(),
        "GET",
        "/api/vm/info",
        Some(&token),
        None,
        &[REMOTE],
    )
    .await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn the_board_decides_hardware_gpio_and_the_hdd_led() {
    for hw in Hardware::ALL {
        let sim = fast().hardware(hw).start().await.unwrap();
        assert_eq!(sim.hardware(), hw);
        let lines = hw.gpio_lines();
        assert_eq!(lines.hdd_led.is_some(), hw == Hardware::Alpha, "{hw}");
        // Power the target off, then on: it reads its disk while it boots.
        let press = |ms: u32| format!(r#"{{"type":"power","duration":{ms}}}"#);
        let token = if hw.is_pro() {
            None
        } else {
            Some(login(&sim).await)
        };
        let r = request(
            sim.addr(),
            "POST",
            "/api/vm/gpio",
            token.as_deref(),
            Some(&press(5000)),
        )
        .await;
        assert_eq!(r.status, 200, "{hw}: {}", r.body);
        sim.wait_for(|m| !m.power().is_powered()).await;
        let r = request(
            sim.addr(),
            "POST",
            "/api/vm/gpio",
            token.as_deref(),
            Some(&press(100)),
        )
        .await;
        assert_eq!(r.status, 200, "{hw}");
        sim.wait_for(nanokvm_sim::MachineState::disk_active).await;
        let r = request(sim.addr(), "GET", "/api/vm/gpio", token.as_deref(), None).await;
        let hdd = r.json()["data"]["hdd"].as_bool().unwrap();
        // The LED may have gone out again by the time the answer was made, but it can
        // only ever be read on Alpha.
        if hw != Hardware::Alpha {
            assert!(!hdd, "{hw}");
        }
        sim.shutdown().await.unwrap();
    }
    // Alpha reads the line: stop the machine in a state where the disk is busy.
    let sim = fast()
        .hardware(Hardware::Alpha)
        .time_scale(nanokvm_sim::TimeScale::new(10.0))
        .start()
        .await
        .unwrap();
    let token = login(&sim).await;
    let r = request(
        sim.addr(),
        "POST",
        "/api/vm/gpio",
        Some(&token),
        Some(r#"{"type":"reset","duration":1}"#),
    )
    .await;
    assert_eq!(r.status, 200);
    sim.wait_for(nanokvm_sim::MachineState::disk_active).await;
    let r = request(sim.addr(), "GET", "/api/vm/gpio", Some(&token), None).await;
    assert_eq!(
        r.body,
        r#"{"code":0,"msg":"success","data":{"pwr":true,"hdd":true}}"#
    );
}

#[tokio::test]
async fn firmware_and_board_must_agree() {
    let err = fast()
        .hardware(Hardware::Pro)
        .firmware(FirmwareVersion::V2_5_0)
        .start()
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid configuration: firmware 2.5.0 does not run on Pro hardware"
    );
    let err = fast()
        .hardware(Hardware::Beta)
        .firmware(FirmwareVersion::Pro1_2_13)
        .start()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("does not run on Beta"), "{err}");
    let sim = fast()
        .firmware(FirmwareVersion::Pro1_2_13)
        .start()
        .await
        .unwrap();
    assert_eq!(sim.hardware(), Hardware::Pro);
}
