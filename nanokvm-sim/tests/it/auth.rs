//! Authentication: login shapes per version, cookie attributes, errors and roles.

use nanokvm_sim::{Account, FirmwareVersion, Lockout, Role, encrypt_password};
use std::time::Duration;

use crate::support::{ALL, fast, login, login_as, request, start};

#[tokio::test]
async fn login_on_2_5_1_sets_the_cookie_and_returns_null_data() {
    let sim = start(FirmwareVersion::V2_5_1).await;
    let body = format!(
        r#"{{"username":"admin","password":"{}"}}"#,
        encrypt_password("admin")
    );
    let r = request(sim.addr(), "POST", "/api/auth/login", None, Some(&body)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, r#"{"code":0,"msg":"success","data":null}"#);
    let cookie = r.header("set-cookie").unwrap();
    assert!(cookie.starts_with("nano-kvm-token=ey"), "{cookie}");
    assert!(
        cookie.contains("; Path=/; Max-Age=2678400; HttpOnly; SameSite=Strict"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"));
}

#[tokio::test]
async fn older_firmware_returns_the_token_in_the_body_without_a_cookie() {
    for fw in [FirmwareVersion::V2_5_0, FirmwareVersion::V2_3_1] {
        let sim = start(fw).await;
        let body = format!(
            r#"{{"username":"admin","password":"{}"}}"#,
            encrypt_password("admin")
        );
        let r = request(sim.addr(), "POST", "/api/auth/login", None, Some(&body)).await;
        assert!(r.header("set-cookie").is_none());
        let token = r.json()["data"]["token"].as_str().unwrap().to_owned();
        let r = request(sim.addr(), "GET", "/api/auth/account", Some(&token), None).await;
        assert_eq!(
            r.body,
            r#"{"code":0,"msg":"success","data":{"username":"admin"}}"#
        );
    }
}

#[tokio::test]
async fn wrong_plaintext_and_malformed_logins_fail_like_the_firmware() {
    let sim = start(FirmwareVersion::V2_5_1).await;
    let addr = sim.addr();
    let wrong = format!(
        r#"{{"username":"admin","password":"{}"}}"#,
        encrypt_password("nope")
    );
    let cases = [
        (
            wrong.as_str(),
            r#"{"code":-2,"msg":"invalid username or password","data":null}"#,
        ),
        (
            r#"{"username":"admin","password":"admin"}"#,
            r#"{"code":-2,"msg":"invalid username or password","data":null}"#,
        ),
        (
            r#"{"username":"admin"}"#,
            r#"{"code":-1,"msg":"invalid parameters","data":null}"#,
        ),
        (
            "{not json",
            r#"{"code":-1,"msg":"invalid parameters","data":null}"#,
        ),
        (
            r#"{"username":1,"password":"x"}"#,
            r#"{"code":-1,"msg":"invalid parameters","data":null}"#,
        ),
    ];
    for (body, want) in cases {
        let r = request(addr, "POST", "/api/auth/login", None, Some(body)).await;
        assert_eq!((r.status, r.body.as_str()), (200, want), "{body}");
        assert!(r.header("set-cookie").is_none());
    }
    // Header and salt without ciphertext make the firmware's AES library panic.
    let r = request(
        addr,
        "POST",
        "/api/auth/login",
        None,
        Some(r#"{"username":"admin","password":"U2FsdGVkX18xMjM0NTY3OA%3D%3D"}"#),
    )
    .await;
    assert_eq!((r.status, r.body.as_str()), (500, ""));
}

#[tokio::test]
async fn routes_need_a_valid_cookie_and_answer_401_with_a_json_string() {
    for fw in ALL {
        let sim = start(fw).await;
        for cookie in [None, Some("garbage"), Some("a.b.c")] {
            let r = request(sim.addr(), "GET", "/api/vm/gpio", cookie, None).await;
            assert_eq!((r.status, r.body.as_str()), (401, "\"unauthorized\""));
            assert!(
                r.header("content-type")
                    .unwrap()
                    .starts_with("application/json")
            );
        }
    }
}

#[tokio::test]
async fn unknown_paths_and_wrong_methods_are_gin_404s_and_slashes_redirect() {
    let sim = start(FirmwareVersion::V2_5_1).await;
    let token = login(&sim).await;
    for (method, path) in [
        ("GET", "/api/nope"),
        ("DELETE", "/api/vm/gpio"),
        ("GET", "/api/auth/login"),
    ] {
        let r = request(sim.addr(), method, path, Some(&token), None).await;
        assert_eq!(
            (r.status, r.body.as_str()),
            (404, "404 page not found"),
            "{method} {path}"
        );
    }
    let r = request(
        sim.addr(),
        "POST",
        "/api/vm/mouse-jiggler",
        Some(&token),
        Some("{}"),
    )
    .await;
    assert_eq!(r.status, 307);
    assert_eq!(r.header("location"), Some("/api/vm/mouse-jiggler/"));
    // Routes of newer releases do not exist on older ones.
    let old = start(FirmwareVersion::V2_3_1).await;
    let t = login(&old).await;
    let r = request(old.addr(), "GET", "/api/hid/leds", Some(&t), None).await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn logout_revokes_this_users_sessions_only_on_2_5_1() {
    let sim = fast()
        .account(Account::new("bob", "bobpassword", Role::User))
        .start()
        .await
        .unwrap();
    let admin = login(&sim).await;
    let bob = login_as(&sim, "bob", "bobpassword").await;
    let r = request(sim.addr(), "POST", "/api/auth/logout", Some(&admin), None).await;
    assert_eq!(r.body, r#"{"code":0,"msg":"success","data":null}"#);
    assert!(r.header("set-cookie").unwrap().contains("Max-Age=-1"));
    let r = request(sim.addr(), "GET", "/api/vm/gpio", Some(&admin), None).await;
    assert_eq!(r.status, 401);
    let r = request(sim.addr(), "GET", "/api/vm/gpio", Some(&bob), None).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn logout_on_2_5_0_invalidates_every_session() {
    let sim = start(FirmwareVersion::V2_5_0).await;
    let a = login(&sim).await;
    let b = login(&sim).await;
    request(sim.addr(), "POST", "/api/auth/logout", Some(&a), None).await;
    let r = request(sim.addr(), "GET", "/api/vm/gpio", Some(&b), None).await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn users_get_403_on_admin_routes_and_see_their_role() {
    let sim = fast()
        .account(Account::new("bob", "bobpassword", Role::User))
        .start()
        .await
        .unwrap();
    let bob = login_as(&sim, "bob", "bobpassword").await;
    let r = request(sim.addr(), "GET", "/api/storage/image", Some(&bob), None).await;
    assert_eq!((r.status, r.body.as_str()), (403, "\"forbidden\""));
    let r = request(sim.addr(), "GET", "/api/auth/account", Some(&bob), None).await;
    assert_eq!(
        r.body,
        r#"{"code":0,"msg":"success","data":{"username":"bob","role":"user"}}"#
    );
    let r = request(sim.addr(), "GET", "/api/vm/gpio", Some(&bob), None).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn disabled_authentication_opens_every_route() {
    let sim = fast().authentication(false).start().await.unwrap();
    let r = request(sim.addr(), "GET", "/api/storage/image", None, None).await;
    assert_eq!(
        r.body,
        r#"{"code":0,"msg":"success","data":{"files":null}}"#
    );
    let r = request(sim.addr(), "POST", "/api/auth/login", None, Some("{}")).await;
    assert_eq!(r.body, r#"{"code":0,"msg":"success","data":null}"#);
    let r = request(sim.addr(), "GET", "/api/auth/password", None, None).await;
    assert_eq!(
        r.body,
        r#"{"code":0,"msg":"success","data":{"isUpdated":true}}"#
    );
}

#[tokio::test]
async fn lockout_answers_minus_5_after_the_limit() {
    let sim = fast()
        .lockout(Lockout {
            max_failures: 2,
            duration: Duration::from_secs(600),
        })
        .start()
        .await
        .unwrap();
    let wrong = format!(
        r#"{{"username":"admin","password":"{}"}}"#,
        encrypt_password("x")
    );
    for _ in 0..2 {
        let r = request(sim.addr(), "POST", "/api/auth/login", None, Some(&wrong)).await;
        assert_eq!(r.json()["code"], -2);
    }
    let right = format!(
        r#"{{"username":"admin","password":"{}"}}"#,
        encrypt_password("admin")
    );
    let r = request(sim.addr(), "POST", "/api/auth/login", None, Some(&right)).await;
    assert_eq!(
        r.body,
        r#"{"code":-5,"msg":"Account locked due to too many failed attempts, please try again later","data":null}"#
    );
}

#[tokio::test]
async fn expired_sessions_and_device_reboots_end_sessions() {
    let sim = start(FirmwareVersion::V2_5_1).await;
    let t = login(&sim).await;
    sim.expire_sessions();
    assert_eq!(
        request(sim.addr(), "GET", "/api/vm/gpio", Some(&t), None)
            .await
            .status,
        401
    );
    let t = login(&sim).await;
    assert_eq!(
        request(sim.addr(), "GET", "/api/vm/gpio", Some(&t), None)
            .await
            .status,
        200
    );
    sim.reboot_device();
    assert_eq!(
        request(sim.addr(), "GET", "/api/vm/gpio", Some(&t), None)
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn password_change_on_2_5_1_checks_the_current_password_and_length() {
    let sim = start(FirmwareVersion::V2_5_1).await;
    let t = login(&sim).await;
    let r = request(sim.addr(), "GET", "/api/auth/password", Some(&t), None).await;
    assert_eq!(r.json()["data"]["isUpdated"], false);
    let body = |cur: &str, new: &str| {
        format!(
            r#"{{"currentPassword":"{}","password":"{}"}}"#,
            encrypt_password(cur),
            encrypt_password(new)
        )
    };
    let r = request(
        sim.addr(),
        "POST",
        "/api/auth/password",
        Some(&t),
        Some(&body("bad", "longenough")),
    )
    .await;
    assert_eq!(
        r.body,
        r#"{"code":-3,"msg":"current password is incorrect","data":null}"#
    );
    let r = request(
        sim.addr(),
        "POST",
        "/api/auth/password",
        Some(&t),
        Some(&body("admin", "short")),
    )
    .await;
    assert_eq!(
        r.body,
        r#"{"code":-5,"msg":"password must be between 8 and 72 bytes","data":null}"#
    );
    let r = request(
        sim.addr(),
        "POST",
        "/api/auth/password",
        Some(&t),
        Some(&body("admin", "longenough")),
    )
    .await;
    assert_eq!(r.json()["code"], 0);
    assert_eq!(
        request(sim.addr(), "GET", "/api/vm/gpio", Some(&t), None)
            .await
            .status,
        401
    );
    let t = login_as(&sim, "admin", "longenough").await;
    let r = request(sim.addr(), "GET", "/api/auth/password", Some(&t), None).await;
    assert_eq!(r.json()["data"]["isUpdated"], true);
}
