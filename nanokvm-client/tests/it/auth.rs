//! Login, tokens, single-flight, 401 handling, errors and secrecy.

use std::time::Duration;

use nanokvm_client::{Client, Error, PasswordEncoding, SecretString};
use serde_json::{Value, json};
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{
    PASSWORD, PRO_ONLY_ROUTE, TOKEN, body, client, decrypt, device, fail, login_with_cookie,
    mount_identity, ok, requests_to, unauthorized,
};

#[tokio::test]
async fn login_sends_an_obfuscated_password_that_decrypts_to_the_real_one() {
    let server = device("2.5.1", "PCIE").await;
    Mock::given(method("GET"))
        .and(path("/api/vm/gpio"))
        .and(header("cookie", format!("nano-kvm-token={TOKEN}").as_str()))
        .respond_with(ok(json!({"pwr": true, "hdd": false})))
        .expect(1)
        .mount(&server)
        .await;
    let leds = client(&server).power().leds().await.unwrap();
    assert!(leds.power);
    assert_eq!(leds.hdd, None);

    let logins = requests_to(&server, "/api/auth/login").await;
    assert_eq!(logins.len(), 1);
    assert_eq!(
        logins[0].headers.get("content-type").unwrap(),
        "application/json"
    );
    let sent = body(&logins[0]);
    assert_eq!(sent["username"], "admin");
    let field = sent["password"].as_str().unwrap();
    assert_ne!(field, PASSWORD);
    assert!(!field.contains('+') && !field.contains('/') && !field.contains('='));
    assert_eq!(decrypt(field).as_deref(), Some(PASSWORD));
}

#[tokio::test]
async fn older_firmware_token_comes_from_the_body() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/auth/login"))
        .respond_with(ok(json!({"token": "body-token"})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/vm/hostname"))
        .and(header("cookie", "nano-kvm-token=body-token"))
        .respond_with(ok(json!({"hostname": "kvm"})))
        .expect(1)
        .mount(&server)
        .await;
    assert_eq!(client(&server).device().hostname().await.unwrap(), "kvm");
}

#[tokio::test]
async fn authentication_disabled_devices_need_no_cookie() {
    // With credentials: the login answers `token: "disabled"` (2.5.0) and sets no cookie.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/auth/login"))
        .respond_with(ok(json!({"token": "disabled"})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/vm/hostname"))
        .respond_with(ok(json!({"hostname": "kvm"})))
        .mount(&server)
        .await;
    assert_eq!(client(&server).device().hostname().await.unwrap(), "kvm");
    let sent = requests_to(&server, "/api/vm/hostname").await;
    assert!(sent[0].headers.get("cookie").is_none());

    // Without credentials: no login at all.
    let anonymous = Client::builder(server.uri()).build().unwrap();
    assert_eq!(anonymous.device().hostname().await.unwrap(), "kvm");
    assert_eq!(requests_to(&server, "/api/auth/login").await.len(), 1);
}

#[tokio::test]
async fn pro_devices_are_recognised_before_the_login() {
    let server = MockServer::start().await;
    // The Pro has the route behind its login; the probe carries no session.
    Mock::given(method("GET"))
        .and(path(PRO_ONLY_ROUTE))
        .respond_with(unauthorized())
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/auth/login"))
        .and(body_json(
            json!({"username": "admin", "password": PASSWORD}),
        ))
        .respond_with(ok(json!({"token": "pro-token", "count": 1})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/vm/hostname"))
        .and(header("cookie", "nano-kvm-token=pro-token"))
        .respond_with(unauthorized())
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/vm/hostname"))
        .and(header("cookie", "nano-kvm-token=pro-token"))
        .respond_with(ok(json!({"hostname": "pro"})))
        .mount(&server)
        .await;
    let client = client(&server);
    // The first answer is a 401, so the client logs in a second time, without probing
    // again.
    assert_eq!(client.device().hostname().await.unwrap(), "pro");
    assert_eq!(client.login_count().await, 2);
    let probes = requests_to(&server, PRO_ONLY_ROUTE).await;
    assert!(probes[0].headers.get("cookie").is_none());
    assert_eq!(requests_to(&server, "/api/auth/login").await.len(), 2);
}

#[tokio::test]
async fn a_wrong_password_costs_one_login() {
    // A Cube (no Pro route: 404) and a Pro, both refusing the password.
    for pro in [false, true] {
        let server = MockServer::start().await;
        if pro {
            Mock::given(method("GET"))
                .and(path(PRO_ONLY_ROUTE))
                .respond_with(unauthorized())
                .mount(&server)
                .await;
        }
        Mock::given(method("POST"))
            .and(path("/api/auth/login"))
            .respond_with(fail(-2, "invalid username or password"))
            .expect(1)
            .mount(&server)
            .await;
        let err = client(&server).login().await.unwrap_err();
        assert!(matches!(err, Error::AuthenticationFailed) && err.is_auth());
        let logins = requests_to(&server, "/api/auth/login").await;
        assert_eq!(logins.len(), 1, "pro: {pro}");
        let field = body(&logins[0])["password"].as_str().unwrap().to_owned();
        if pro {
            assert_eq!(field, PASSWORD);
        } else {
            assert_eq!(decrypt(&field).as_deref(), Some(PASSWORD));
        }
    }
}

#[tokio::test]
async fn wrong_passwords_and_lockouts_classify() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/auth/login"))
        .respond_with(fail(-2, "invalid username or password"))
        .mount(&server)
        .await;
    let strict = Client::builder(server.uri())
        .credentials("admin", SecretString::from(PASSWORD))
        .password_encoding(PasswordEncoding::Obfuscated)
        .build()
        .unwrap();
    let err = strict.login().await.unwrap_err();
    assert!(matches!(err, Error::AuthenticationFailed) && err.is_auth());
    assert!(!format!("{err} {err:?}").contains(PASSWORD));
    assert_eq!(requests_to(&server, "/api/auth/login").await.len(), 1);

    let locked = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/auth/login"))
        .respond_with(fail(-5, "Account locked due to too many failed attempts"))
        .mount(&locked)
        .await;
    let err = client(&locked).login().await.unwrap_err();
    assert!(matches!(err, Error::LockedOut) && err.is_auth());
    // A lockout is not retried in another encoding.
    assert_eq!(requests_to(&locked, "/api/auth/login").await.len(), 1);
}

#[tokio::test]
async fn concurrent_first_calls_log_in_once() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/auth/login"))
        .respond_with(login_with_cookie().set_delay(Duration::from_millis(50)))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/vm/hostname"))
        .respond_with(ok(json!({"hostname": "kvm"})))
        .expect(8)
        .mount(&server)
        .await;
    let client = client(&server);
    let calls: Vec<_> = (0..8)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.device().hostname().await })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap(), "kvm");
    }
    assert_eq!(client.login_count().await, 1);
}

#[tokio::test]
async fn expired_sessions_are_renewed_and_reads_repeated() {
    let server = device("2.5.0", "Beta").await;
    Mock::given(method("GET"))
        .and(path("/api/vm/hostname"))
        .respond_with(unauthorized())
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/vm/hostname"))
        .respond_with(ok(json!({"hostname": "kvm"})))
        .mount(&server)
        .await;
    let client = client(&server);
    assert_eq!(client.device().hostname().await.unwrap(), "kvm");
    assert_eq!(client.login_count().await, 2);
    assert_eq!(requests_to(&server, "/api/vm/hostname").await.len(), 2);
}

#[tokio::test]
async fn power_presses_are_not_repeated_after_a_401() {
    let server = device("2.5.0", "Beta").await;
    Mock::given(method("POST"))
        .and(path("/api/vm/gpio"))
        .respond_with(unauthorized())
        .expect(1)
        .mount(&server)
        .await;
    let client = client(&server);
    let err = client.power().press_power().await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::SessionExpired {
                repeated: false,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_auth());
    // The session was renewed for the next call.
    assert_eq!(client.login_count().await, 2);
}

#[tokio::test]
async fn a_second_401_is_a_session_error() {
    let server = device("2.5.0", "Beta").await;
    Mock::given(method("GET"))
        .and(path("/api/vm/hostname"))
        .respond_with(unauthorized())
        .expect(3)
        .mount(&server)
        .await;
    let err = client(&server).device().hostname().await.unwrap_err();
    assert!(matches!(err, Error::SessionExpired { repeated: true, .. }));
    let anonymous = Client::builder(server.uri()).build().unwrap();
    let err = anonymous.device().hostname().await.unwrap_err();
    assert!(matches!(err, Error::CredentialsRequired { .. }) && err.is_auth());
}

#[tokio::test]
async fn forbidden_and_missing_routes_classify() {
    let server = device("2.5.1", "PCIE").await;
    Mock::given(method("POST"))
        .and(path("/api/vm/system/reboot"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!("forbidden")))
        .mount(&server)
        .await;
    let client = client(&server);
    let err = client.device().reboot().await.unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }) && err.is_auth());
    assert_eq!(
        err.to_string(),
        "POST /api/vm/system/reboot: forbidden; this needs an admin account"
    );

    client.capabilities().await.unwrap();
    let err = client.device().web_title().await.unwrap_err();
    assert!(err.is_not_supported());
    assert!(err.to_string().contains("firmware 2.5.1 on PCIE"), "{err}");
}

#[tokio::test]
async fn timeouts_are_reported_and_never_retried() {
    let server = device("2.5.0", "Beta").await;
    Mock::given(method("POST"))
        .and(path("/api/vm/gpio"))
        .respond_with(ok(Value::Null).set_delay(Duration::from_secs(5)))
        .expect(1)
        .mount(&server)
        .await;
    let client = Client::builder(server.uri())
        .credentials("admin", SecretString::from(PASSWORD))
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let err = client
        .power()
        .press(
            nanokvm_client::api::power::PowerButton::Power,
            Duration::from_millis(1),
        )
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(requests_to(&server, "/api/vm/gpio").await.len(), 1);
}

#[tokio::test]
async fn connection_failures_classify_without_secrets() {
    let client = Client::builder("http://127.0.0.1:9")
        .credentials("admin", SecretString::from(PASSWORD))
        .connect_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let err = client.login().await.unwrap_err();
    assert!(err.is_connection(), "{err:?}");
    assert!(!format!("{err} {err:?}").contains(PASSWORD));
    // The message says what failed and the chain says why, each cause once.
    let message = err.to_string();
    assert!(message.ends_with(": connection failed"), "{message}");
    let mut chain = vec![message];
    let mut cause = std::error::Error::source(&err);
    while let Some(error) = cause {
        chain.push(error.to_string());
        cause = error.source();
    }
    assert!(chain.len() > 1, "{chain:?}");
    for (i, message) in chain.iter().enumerate() {
        for later in &chain[i + 1..] {
            assert!(!message.contains(later.as_str()), "{chain:?}");
        }
    }
}

#[tokio::test]
async fn capabilities_are_read_once_and_gate_operations() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/auth/login"))
        .respond_with(login_with_cookie())
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/vm/info"))
        .respond_with(ok(json!({"ips": null, "mdns": "", "image": "v1.4.1", "application": "2.4.3", "deviceKey": ""})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/vm/hardware"))
        .respond_with(ok(json!({"version": "Alpha"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/hid/leds"))
        .respond_with(ok(Value::Null))
        .expect(0)
        .mount(&server)
        .await;
    let client = client(&server);
    let caps = client.capabilities().await.unwrap().clone();
    assert_eq!(caps.application.numbers(), Some((2, 4, 3)));
    assert_eq!(caps.image, "v1.4.1");
    assert_eq!(caps.hardware, nanokvm_client::Hardware::Alpha);
    let err = client.hid().keyboard_leds().await.unwrap_err();
    assert!(err.is_not_supported());
    assert_eq!(
        err.to_string(),
        "keyboard LEDs is not supported by firmware 2.4.3 on Alpha (needs firmware 2.5.0 or later)"
    );
    let clone = client.clone();
    assert_eq!(clone.capabilities().await.unwrap(), &caps);
}

#[tokio::test]
async fn decode_errors_name_endpoint_and_path() {
    let server = device("2.5.0", "Beta").await;
    mount_identity(&server, "2.5.0", "Beta").await;
    Mock::given(method("GET"))
        .and(path("/api/vm/gpio"))
        .respond_with(ok(json!({"pwr": "yes"})))
        .mount(&server)
        .await;
    let err = client(&server).power().leds().await.unwrap_err();
    match &err {
        Error::Decode { endpoint, path, .. } => {
            assert_eq!(endpoint, "GET /api/vm/gpio");
            assert_eq!(path, "data.pwr");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn errors_are_send_sync_static() {
    fn check<T: Send + Sync + 'static + std::error::Error>() {}
    check::<Error>();
    fn clone_is_cheap<T: Clone + Send + Sync>() {}
    clone_is_cheap::<Client>();
}
