//! `/api/application/*`: the application version, preview updates, the update server
//! (2.5.1) and the online update.
//!
//! The firmware asks its update server (`https://cdn.sipeed.com/nanokvm`, or
//! `/preview` under it) for `latest.json`. The simulator has no internet: the vendor's
//! server is played by the URL given to `SimulatorBuilder::update_server`, and without
//! one it is unreachable, as on a device without internet access. On 2.5.1 a custom
//! update server (`/api/application/update-server`) is fetched as configured. Only
//! plain HTTP is fetched (see `fetch`).
//!
//! What an unreachable server means differs by version: 2.5.1 answers -1 `failed to
//! query latest version`, while 2.5.0 and 2.3.1 answer success with `latest` empty.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::response::Response;
use base64::Engine as _;
use serde_json::Value;
use sha2::{Digest, Sha512};

use super::{Ctx, fail, ok, ok_null};
use crate::fetch::{self, Method};
use crate::json::J;
use crate::state::{Shared, lock};

/// The vendor's update server, and its preview channel.
pub(crate) const STABLE_URL: &str = "https://cdn.sipeed.com/nanokvm";
const PREVIEW_URL: &str = "https://cdn.sipeed.com/nanokvm/preview";
/// 2.5.1 reads at most this much of `latest.json`.
const MAX_LATEST_JSON: usize = 64 * 1024;

/// The update server configuration of 2.5.1.
#[derive(Clone, Debug)]
pub(crate) struct UpdateServer {
    pub enabled: bool,
    pub url: String,
}

impl Default for UpdateServer {
    fn default() -> Self {
        Self {
            enabled: false,
            url: STABLE_URL.to_owned(),
        }
    }
}

/// What `latest.json` says, as far as the simulator uses it.
#[derive(Debug, PartialEq, Eq)]
struct Latest {
    version: String,
    name: String,
    sha512: String,
}

/// Why the latest version could not be learned; `Display` is the firmware's text.
#[derive(Debug)]
struct LatestError(String);

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The base URL the firmware asks, and the one the simulator fetches instead.
fn update_base(shared: &Shared) -> (String, Option<String>) {
    let (custom, preview) = {
        let s = lock(&shared.settings);
        let custom = (shared.config.firmware.is_head() && s.update_server.enabled)
            .then(|| s.update_server.url.clone());
        (custom, s.preview_updates)
    };
    let base = custom.unwrap_or_else(|| if preview { PREVIEW_URL } else { STABLE_URL }.to_owned());
    let vendor = shared.config.update_server.as_deref();
    let fetched = if let Some(rest) = base.strip_prefix(STABLE_URL) {
        vendor.map(|v| format!("{}{rest}", v.trim_end_matches('/')))
    } else {
        Some(base.clone())
    };
    (base, fetched)
}

/// A JSON object's field, matched case-insensitively as Go's decoder does.
fn field<'a>(map: &'a serde_json::Map<String, Value>, name: &str) -> Option<&'a Value> {
    map.iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
        .next_back()
        .filter(|v| !v.is_null())
}

fn string_field(map: &serde_json::Map<String, Value>, name: &str) -> Result<String, ()> {
    match field(map, name) {
        None => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(()),
    }
}

fn uint_field(map: &serde_json::Map<String, Value>, name: &str) -> Result<u64, ()> {
    match field(map, name) {
        None => Ok(0),
        Some(v) => v.as_u64().ok_or(()),
    }
}

/// `^[0-9]+\.[0-9]+\.[0-9]+` followed by the rest of the firmware's version pattern.
fn valid_version(v: &str) -> bool {
    let (core, build) = v.split_once('+').unwrap_or((v, ""));
    let (core, pre) = core.split_once('-').unwrap_or((core, ""));
    let ident = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    };
    let numbers: Vec<&str> = core.split('.').collect();
    numbers.len() == 3
        && numbers
            .iter()
            .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        && (pre.is_empty() || ident(pre))
        && (build.is_empty() || ident(build))
        && !v.ends_with('-')
        && !v.ends_with('+')
}

/// `^nanokvm_[0-9]+\.[0-9]+\.[0-9]+\.tar\.gz$`.
fn valid_package_name(name: &str) -> bool {
    name.strip_prefix("nanokvm_")
        .and_then(|r| r.strip_suffix(".tar.gz"))
        .is_some_and(|core| {
            let numbers: Vec<&str> = core.split('.').collect();
            numbers.len() == 3
                && numbers
                    .iter()
                    .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
}

/// Decodes `latest.json` the way the played firmware does: 2.5.1 validates the
/// manifest, older versions take whatever decodes.
fn decode_latest(body: &[u8], validate: bool) -> Result<Latest, LatestError> {
    let malformed = || LatestError("invalid latest manifest".to_owned());
    let map = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => map,
        Ok(Value::Null) => serde_json::Map::new(),
        _ => return Err(malformed()),
    };
    let latest = Latest {
        version: string_field(&map, "version").map_err(|()| malformed())?,
        name: string_field(&map, "name").map_err(|()| malformed())?,
        sha512: string_field(&map, "sha512").map_err(|()| malformed())?,
    };
    let size = uint_field(&map, "size").map_err(|()| malformed())?;
    if !validate {
        return Ok(latest);
    }
    let manifest = match field(&map, "manifest_version") {
        None => 0,
        Some(v) => v.as_i64().ok_or_else(malformed)?,
    };
    let size_bytes = uint_field(&map, "size_bytes").map_err(|()| malformed())?;
    let unpacked = uint_field(&map, "unpacked_size_bytes").map_err(|()| malformed())?;
    let err = |m: &str| Err(LatestError(m.to_owned()));
    if !valid_version(&latest.version) {
        return err("invalid latest version");
    }
    if !valid_package_name(&latest.name) {
        return err("invalid update package name");
    }
    let digest = base64::engine::general_purpose::STANDARD.decode(&latest.sha512);
    if digest.map_or(true, |d| d.len() != 64) {
        return err("invalid update package sha512");
    }
    if size == 0 {
        return err("invalid update package size");
    }
    match manifest {
        0 | 1 => Ok(latest),
        2 if size_bytes == 0 || size_bytes > 1 << 30 => err("invalid update package size_bytes"),
        2 if unpacked == 0 || unpacked > 2 << 30 => {
            err("invalid update package unpacked_size_bytes")
        }
        2 => Ok(latest),
        _ => err("unsupported update manifest version"),
    }
}

/// Reads a whole body, failing past `limit` bytes.
async fn read_body(response: &mut fetch::Response, limit: usize) -> Result<Vec<u8>, ()> {
    let mut body = Vec::new();
    while let Some(piece) = response.chunk().await.map_err(|_| ())? {
        body.extend_from_slice(&piece);
        if body.len() > limit {
            return Err(());
        }
    }
    Ok(body)
}

/// Go's error text for a GET that could not be made (2.5.0 and older pass it on).
fn get_error(url: &str, host: &str) -> String {
    format!("Get \"{url}\": dial tcp: lookup {host}: no such host")
}

/// The firmware's `getLatest`: the manifest and the base URL it came from.
async fn get_latest(shared: &Shared) -> Result<(Latest, String), LatestError> {
    let head = shared.config.firmware.is_head();
    let (base, fetched) = update_base(shared);
    // The Pro asks for its own manifest on the same server.
    let file = if shared.config.firmware.is_pro() {
        "nanokvm_pro_latest.json"
    } else {
        "latest.json"
    };
    let manifest = format!("{base}/{file}?now={}", unix_now());
    let unreachable = || {
        if head {
            LatestError("update server is inaccessible".to_owned())
        } else {
            let host = fetch::parse(&base).map(|u| u.host).unwrap_or_default();
            LatestError(get_error(&manifest, &host))
        }
    };
    let Some(fetched) = fetched else {
        return Err(unreachable());
    };
    let url =
        fetch::parse(&format!("{fetched}/{file}?now={}", unix_now())).map_err(|_| unreachable())?;
    // 2.5.1 gives up after 15 s; the limit is scaled, but never under a second.
    let limit = shared
        .time
        .scale(Duration::from_secs(15))
        .max(Duration::from_secs(1));
    let request = async {
        let mut response = fetch::request(Method::Get, &url)
            .await
            .map_err(|_| unreachable())?;
        let cap = if head { MAX_LATEST_JSON + 1 } else { 16 << 20 };
        let body = read_body(&mut response, cap)
            .await
            .map_err(|()| LatestError("read latest manifest failed".to_owned()))?;
        if response.status != 200 {
            return Err(LatestError(format!("status code {}", response.status)));
        }
        if head && body.len() > MAX_LATEST_JSON {
            return Err(LatestError(format!(
                "latest manifest exceeds {MAX_LATEST_JSON} bytes"
            )));
        }
        decode_latest(&body, head)
    };
    let latest = if head {
        tokio::time::timeout(limit, request)
            .await
            .map_err(|_| unreachable())??
    } else {
        request.await?
    };
    Ok((latest, fetched))
}

pub(crate) async fn route(ctx: Ctx) -> Response {
    let shared = &ctx.shared;
    let head = shared.config.firmware.is_head();
    match (ctx.method.as_str(), ctx.path.as_str()) {
        ("GET", "/api/application/version") => {
            let current = lock(&shared.settings).app_version.clone();
            let latest = match get_latest(shared).await {
                Ok((latest, _)) => latest.version,
                Err(_) if head => return fail(-1, "failed to query latest version"),
                // The Pro reports its own version as the latest when it cannot ask.
                Err(_) if shared.config.firmware.is_pro() => current.clone(),
                Err(_) => String::new(),
            };
            ok(J::obj([
                ("current", current.into()),
                ("latest", latest.into()),
            ]))
        }
        ("GET", "/api/application/preview") => ok(J::obj([(
            "enabled",
            lock(&shared.settings).preview_updates.into(),
        )])),
        ("POST", "/api/application/preview") => match ctx.form().boolean("Enable", "Enable") {
            Ok(enable) => {
                lock(&shared.settings).preview_updates = enable.unwrap_or(false);
                ok_null()
            }
            Err(_) => fail(-1, "invalid arguments"),
        },
        ("GET", "/api/application/update-server") => {
            let u = lock(&shared.settings).update_server.clone();
            ok(update_server_object(&u))
        }
        ("POST", "/api/application/update-server") => set_update_server(&ctx),
        ("POST", "/api/application/update") => update(&ctx).await,
        _ => super::not_found(),
    }
}

fn update_server_object(u: &UpdateServer) -> J {
    J::obj([("enabled", u.enabled.into()), ("url", u.url.clone().into())])
}

/// 2.5.1's `normalizeUpdateServerURL`.
fn normalize_update_server(raw: &str) -> Result<String, &'static str> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(String::new());
    }
    if raw.len() > 2048 {
        return Err("update server URL is too long");
    }
    let url = fetch::parse(raw).map_err(|_| "invalid update server URL")?;
    if url.host.is_empty() || (url.scheme != "http" && url.scheme != "https") {
        return Err("invalid update server URL");
    }
    let fragment = raw.split_once('#').is_some_and(|(_, f)| !f.is_empty());
    if url.raw_query.as_deref().is_some_and(|q| !q.is_empty()) || fragment {
        return Err("update server URL must not contain a query or fragment");
    }
    let path = String::from_utf8_lossy(&url.path).into_owned();
    let trimmed = path.trim_end_matches('/');
    if trimmed.ends_with("/latest.json") {
        return Err("enter the update server directory, not latest.json");
    }
    Ok(format!(
        "{}://{}{}",
        url.scheme,
        url.authority(),
        fetch::escape_path(trimmed.as_bytes())
    ))
}

fn set_update_server(ctx: &Ctx) -> Response {
    let form = ctx.form();
    let (Ok(Some(enabled)), Ok(url)) = (
        form.boolean("enabled", "enabled"),
        form.string("url", "url"),
    ) else {
        return fail(-1, "invalid arguments");
    };
    let normalized = match normalize_update_server(&url) {
        Ok(n) => n,
        Err(msg) => return fail(-2, msg),
    };
    if enabled && normalized.is_empty() {
        return fail(-2, "update server URL is required");
    }
    let config = UpdateServer {
        enabled,
        url: if normalized.is_empty() {
            STABLE_URL.to_owned()
        } else {
            normalized
        },
    };
    lock(&ctx.shared.settings).update_server = config.clone();
    ok(update_server_object(&config))
}

/// `POST /api/application/update`: the latest package is downloaded and its SHA-512
/// checked; the simulator then "installs" it by taking over its version number (what
/// `current` reports; the API it plays does not change) and restarts, as the device
/// restarts its services.
async fn update(ctx: &Ctx) -> Response {
    let shared = &ctx.shared;
    let Ok(_guard) = shared.update_lane.try_lock() else {
        return fail(-1, "update already in progress");
    };
    let failed = |e: &str| fail(-1, &format!("update failed: {e}"));
    let (latest, fetched) = match get_latest(shared).await {
        Ok(l) => l,
        Err(LatestError(e)) => return failed(&e),
    };
    let package = format!("{fetched}/{}", latest.name);
    let inaccessible = "update website is inaccessible right now";
    let Ok(url) = fetch::parse(&package) else {
        return failed(inaccessible);
    };
    let body = match fetch::request(Method::Get, &url).await {
        Ok(mut r) if r.status == 200 => read_body(&mut r, 1 << 30).await,
        _ => Err(()),
    };
    let Ok(body) = body else {
        return failed(inaccessible);
    };
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha512::digest(&body));
    if hash != latest.sha512 {
        return failed(&format!("invalid sha512 {hash}"));
    }
    lock(&shared.settings).app_version = latest.version;
    let me = std::sync::Arc::clone(shared);
    tokio::spawn(async move {
        me.time.sleep(Duration::from_secs(1)).await;
        me.reboot_device();
    });
    ok_null()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_are_validated_like_2_5_1() {
        let sha = base64::engine::general_purpose::STANDARD.encode([7u8; 64]);
        let good = format!(
            r#"{{"version":"2.6.0","name":"nanokvm_2.6.0.tar.gz","sha512":"{sha}","size":10}}"#
        );
        assert_eq!(
            decode_latest(good.as_bytes(), true).unwrap().version,
            "2.6.0"
        );
        let bad_version = good.replace("\"2.6.0\"", "\"v2.6\"");
        assert_eq!(
            decode_latest(bad_version.as_bytes(), true).unwrap_err().0,
            "invalid latest version"
        );
        // Older firmware takes the version as it comes.
        assert_eq!(
            decode_latest(bad_version.as_bytes(), false)
                .unwrap()
                .version,
            "v2.6"
        );
        let no_size = good.replace(",\"size\":10", "");
        assert_eq!(
            decode_latest(no_size.as_bytes(), true).unwrap_err().0,
            "invalid update package size"
        );
        assert!(decode_latest(br#"{"version":5}"#, false).is_err());
        assert!(valid_version("1.2.3-rc.1+build-7"));
        assert!(!valid_version("1.2"));
        assert!(valid_package_name("nanokvm_2.5.10.tar.gz"));
        assert!(!valid_package_name("nanokvm_2.5.tar.gz"));
    }

    #[test]
    fn update_server_urls_are_normalised_like_2_5_1() {
        assert_eq!(
            normalize_update_server(" http://h:8/a/b/// ").as_deref(),
            Ok("http://h:8/a/b")
        );
        assert_eq!(normalize_update_server("").as_deref(), Ok(""));
        assert_eq!(
            normalize_update_server("ftp://h/x"),
            Err("invalid update server URL")
        );
        assert_eq!(
            normalize_update_server("http://h/x?y=1"),
            Err("update server URL must not contain a query or fragment")
        );
        assert_eq!(
            normalize_update_server("http://h/x/latest.json/"),
            Err("enter the update server directory, not latest.json")
        );
    }
}
