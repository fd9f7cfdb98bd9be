//! Shared helpers: a mock device, envelopes, and the firmware's password decryption.

use aes::Aes256;
use base64::Engine as _;
use cbc::cipher::{BlockDecryptMut, KeyIvInit, block_padding::Pkcs7};
use md5::{Digest, Md5};
use nanokvm_client::{Client, SecretString};
use serde_json::{Value, json};
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

pub const TOKEN: &str = "tok.en.jwt";
pub const PASSWORD: &str = "s3cret+/=pass";
/// The route only the Pro firmware has, which `PasswordEncoding::Auto` asks for before
/// the first login.
pub const PRO_ONLY_ROUTE: &str = "/api/storage/download/image/enabled";

/// `{"code":0,"msg":"success","data":data}`.
pub fn ok(data: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"code": 0, "msg": "success", "data": data}))
}

/// `{"code":code,"msg":msg,"data":null}`.
pub fn fail(code: i64, msg: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"code": code, "msg": msg, "data": null}))
}

/// The firmware's 401 reply.
pub fn unauthorized() -> ResponseTemplate {
    ResponseTemplate::new(401).set_body_json(json!("unauthorized"))
}

/// Login success the current way: the token in a cookie, `data: null`.
pub fn login_with_cookie() -> ResponseTemplate {
    ok(Value::Null).insert_header(
        "set-cookie",
        format!("nano-kvm-token={TOKEN}; Path=/; Max-Age=2678400; HttpOnly; SameSite=Strict"),
    )
}

/// The server side of the password scheme: URL-decode, Base64, `Salted__`, MD5 key
/// derivation, AES-256-CBC. Written here from the spec, independently of the client.
pub fn decrypt(field: &str) -> Option<String> {
    let mut raw = Vec::new();
    let bytes = field.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            raw.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            raw.push(bytes[i]);
            i += 1;
        }
    }
    let blob = base64::engine::general_purpose::STANDARD.decode(raw).ok()?;
    let (head, rest) = blob.split_at_checked(16)?;
    if &head[..8] != b"Salted__" {
        return None;
    }
    let salt = &head[8..16];
    let pass = b"nanokvm-sipeed-2024";
    let mut derived = Vec::new();
    let mut prev: Vec<u8> = Vec::new();
    while derived.len() < 48 {
        let mut md5 = Md5::new();
        md5.update(&prev);
        md5.update(pass);
        md5.update(salt);
        prev = md5.finalize().to_vec();
        derived.extend_from_slice(&prev);
    }
    let plain = cbc::Decryptor::<Aes256>::new(derived[..32].into(), derived[32..48].into())
        .decrypt_padded_vec_mut::<Pkcs7>(rest)
        .ok()?;
    String::from_utf8(plain).ok()
}

/// The JSON body of a recorded request.
pub fn body(request: &Request) -> Value {
    serde_json::from_slice(&request.body).unwrap_or(Value::Null)
}

/// A client with credentials and short timeouts for `server`.
pub fn client(server: &MockServer) -> Client {
    Client::builder(server.uri())
        .credentials("admin", SecretString::from(PASSWORD))
        .timeout(std::time::Duration::from_secs(5))
        .build()
        .unwrap()
}

/// Mounts a device that logs in with a cookie and reports `version` on `hardware`; it
/// answers the password-encoding probe as its firmware family does (the Pro's route is
/// behind its login, the others lack it).
pub async fn device(version: &str, hardware: &str) -> MockServer {
    let server = MockServer::start().await;
    let probe = if hardware == "Pro" {
        unauthorized()
    } else {
        ResponseTemplate::new(404).set_body_string("404 page not found")
    };
    Mock::given(method("GET"))
        .and(path(PRO_ONLY_ROUTE))
        .respond_with(probe)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/auth/login"))
        .respond_with(login_with_cookie())
        .mount(&server)
        .await;
    mount_identity(&server, version, hardware).await;
    server
}

/// Mounts `/api/vm/info` and `/api/vm/hardware`.
pub async fn mount_identity(server: &MockServer, version: &str, hardware: &str) {
    Mock::given(method("GET"))
        .and(path("/api/vm/info"))
        .respond_with(ok(json!({
            "ips": [{"name": "eth0", "addr": "192.168.1.50", "version": "IPv4", "type": "Wired"}],
            "mdns": "kvm-abcd.local", "image": "v1.4.2", "application": version, "deviceKey": "k"
        })))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/vm/hardware"))
        .respond_with(ok(json!({"version": hardware})))
        .mount(server)
        .await;
}

/// The requests `server` received on `route`.
pub async fn requests_to(server: &MockServer, route: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.url.path() == route)
        .collect()
}

/// Expects exactly one authenticated `verb route` request (with `sent` as its JSON body,
/// when given) and answers it with `reply` as the envelope's data.
pub async fn expect(
    server: &MockServer,
    verb: &str,
    route: &str,
    sent: Option<Value>,
    reply: Value,
) {
    let mut mock = Mock::given(method(verb))
        .and(path(route))
        .and(header("cookie", format!("nano-kvm-token={TOKEN}").as_str()));
    if let Some(sent) = sent {
        mock = mock.and(body_json(sent));
    }
    mock.respond_with(ok(reply)).expect(1).mount(server).await;
}
