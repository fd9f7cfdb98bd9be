//! `/api/auth/*`: login, logout, password, account and (2.5.1) user management, and the
//! session check every authenticated route runs first.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::Response;

use super::{Ctx, Principal, fail, internal_error, ok, ok_null};
use crate::config::Role;
use crate::crypto::{self, Decrypt};
use crate::json::J;
use crate::state::{Auth, Failures, Shared, User, lock};

/// `jwt.refreshTokenDuration` default: 31 days.
const TOKEN_LIFETIME: i64 = 2_678_400;
const COOKIE: &str = "nano-kvm-token";
const WRONG_PASSWORD_DELAY: Duration = Duration::from_secs(2);
const MALFORMED_DELAY: Duration = Duration::from_secs(3);

fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.trim_matches('"').to_owned())
}

/// The Pro firmware's `Authorization: Bearer <jwt>`, read only when no cookie is sent.
fn bearer_token(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    value
        .strip_prefix("Bearer ")
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

/// gin's `ClientIP()` with its defaults (every proxy trusted, `X-Forwarded-For` then
/// `X-Real-IP`): the leftmost address of the first of those headers that parses,
/// else the peer's address. The Pro firmware keeps these defaults, so a proxy header
/// decides whether a request counts as local.
pub(crate) fn gin_client_ip(headers: &HeaderMap, peer: IpAddr) -> IpAddr {
    for name in ["x-forwarded-for", "x-real-ip"] {
        let Some(value) = headers.get(name).and_then(|v| v.to_str().ok()) else {
            continue;
        };
        let items: Vec<&str> = value.split(',').map(str::trim).collect();
        // Walking from the right, every address is a trusted proxy, so the walk ends at
        // the leftmost one; an unparsable item ends it with no answer.
        if items.iter().all(|i| i.parse::<IpAddr>().is_ok()) {
            if let Some(ip) = items.first().and_then(|i| i.parse().ok()) {
                return ip;
            }
        }
    }
    peer
}

/// The principal of an open route: authentication disabled, or a Pro loopback client.
fn implicit_admin() -> Principal {
    Principal {
        username: "admin".to_owned(),
        role: Role::Admin,
        token: None,
    }
}

/// `CheckToken`: the caller behind the session cookie (or, on the Pro, the bearer
/// token), or `None` for a 401. The Pro lets every loopback client through.
pub(crate) fn check_token(shared: &Shared, headers: &HeaderMap, peer: IpAddr) -> Option<Principal> {
    if !shared.config.authentication {
        return Some(implicit_admin());
    }
    let pro = shared.config.firmware.is_pro();
    if pro && gin_client_ip(headers, peer).is_loopback() {
        return Some(implicit_admin());
    }
    let token = match cookie_token(headers) {
        Some(t) => t,
        None if pro => bearer_token(headers)?,
        None => return None,
    };
    validate(shared, &token).map(|(username, role)| Principal {
        username,
        role,
        token: Some(token),
    })
}

/// Validates a token against the current secret and account store.
pub(crate) fn validate(shared: &Shared, token: &str) -> Option<(String, Role)> {
    let auth = lock(&shared.auth);
    let claims = crypto::jwt_verify(&auth.secret, token)?;
    let exp = claims.get("exp")?.as_i64()?;
    if exp <= auth.now() {
        return None;
    }
    let username = claims.get("username")?.as_str()?.to_owned();
    if !shared.config.firmware.is_head() {
        let role = auth.user(&username).map_or(Role::Admin, |u| u.role);
        return Some((username, role));
    }
    if username.is_empty() || claims.get("sub")?.as_str()? != username {
        return None;
    }
    let version = claims.get("tokenVersion")?.as_u64()?;
    let user = auth.user(&username)?;
    (version != 0 && user.enabled && user.token_version == version).then_some((username, user.role))
}

fn issue(shared: &Shared, auth: &Auth, user: &User) -> String {
    let now = auth.now();
    let exp = now + TOKEN_LIFETIME;
    let claims = if shared.config.firmware.is_head() {
        J::obj([
            ("username", user.username.clone().into()),
            (
                "tokenVersion",
                J::Int(i64::try_from(user.token_version).unwrap_or(i64::MAX)),
            ),
            ("sub", user.username.clone().into()),
            ("exp", J::Int(exp)),
            ("iat", J::Int(now)),
        ])
    } else {
        J::obj([
            ("username", user.username.clone().into()),
            ("exp", J::Int(exp)),
        ])
    };
    crypto::jwt_sign(&auth.secret, &claims.encode())
}

fn set_cookie(ctx: &Ctx, r: &mut Response, value: &str, max_age: i64) {
    let secure = ctx
        .headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    let cookie = format!(
        "{COOKIE}={value}; Path=/; Max-Age={max_age}; HttpOnly{}; SameSite=Strict",
        if secure { "; Secure" } else { "" }
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
}

pub(crate) async fn route(ctx: Ctx) -> Response {
    let path = ctx.path.clone();
    let segments: Vec<&str> = path.split('/').skip(4).collect();
    match (ctx.method.as_str(), path.as_str()) {
        ("POST", "/api/auth/login") => login(ctx).await,
        ("POST", "/api/auth/logout") => logout(&ctx),
        ("GET", "/api/auth/account") => account(&ctx),
        ("GET", "/api/auth/password") => is_updated(&ctx),
        ("POST", "/api/auth/password") => change_password(&ctx),
        ("GET", "/api/auth/users") => list_users(&ctx),
        ("POST", "/api/auth/users") => create_user(&ctx),
        _ => match (&ctx.method, segments.as_slice()) {
            (&Method::PUT, [name]) => update_user(&ctx, name),
            (&Method::DELETE, [name]) => delete_user(&ctx, name),
            (&Method::POST, [name, "password"]) => reset_user_password(&ctx, name),
            _ => super::not_found(),
        },
    }
}

enum Lock {
    Open,
    Locked,
}

fn lock_state(shared: &Shared, ip: std::net::IpAddr) -> Lock {
    let Some(_) = shared.config.lockout else {
        return Lock::Open;
    };
    let mut auth = lock(&shared.auth);
    match auth.failures.get(&ip) {
        Some(f) if f.locked_until.is_some_and(|t| Instant::now() < t) => Lock::Locked,
        Some(f) if f.locked_until.is_some() => {
            auth.failures.remove(&ip);
            Lock::Open
        }
        _ => Lock::Open,
    }
}

fn record_failure(shared: &Shared, ip: std::net::IpAddr) {
    let Some(lockout) = shared.config.lockout else {
        return;
    };
    let window = shared.time.scale(lockout.duration);
    let mut auth = lock(&shared.auth);
    if auth.failures.len() >= 3000 {
        auth.failures.clear();
    }
    let now = Instant::now();
    let entry = auth.failures.entry(ip).or_insert(Failures {
        count: 0,
        last: now,
        locked_until: None,
    });
    if now.duration_since(entry.last) > window {
        entry.count = 0;
    }
    entry.count += 1;
    entry.last = now;
    if entry.count >= lockout.max_failures {
        entry.locked_until = Some(now + window);
    }
}

async fn login(ctx: Ctx) -> Response {
    let shared = Arc::clone(&ctx.shared);
    let fw = shared.config.firmware;
    if !shared.config.authentication {
        return if fw.is_head() {
            ok_null()
        } else if fw.is_pro() {
            ok(pro_login_answer("disabled".to_owned()))
        } else {
            ok(J::obj([("token", "disabled".into())]))
        };
    }
    if fw.is_pro() {
        return pro_login(&ctx).await;
    }
    let ip = ctx.peer.ip();
    if matches!(lock_state(&shared, ip), Lock::Locked) {
        shared.time.sleep(MALFORMED_DELAY).await;
        return fail(
            -5,
            "Account locked due to too many failed attempts, please try again later",
        );
    }
    let form = ctx.form();
    let (Ok(username), Ok(password)) = (
        form.string("Username", "username"),
        form.string("Password", "password"),
    ) else {
        shared.time.sleep(MALFORMED_DELAY).await;
        return fail(-1, "invalid parameters");
    };
    if username.is_empty() || password.is_empty() {
        shared.time.sleep(MALFORMED_DELAY).await;
        return fail(-1, "invalid parameters");
    }
    let plain = match crypto::decode_decrypt(&password) {
        Ok(p) if !p.is_empty() => p,
        Ok(_) | Err(Decrypt::Invalid) => {
            record_failure(&shared, ip);
            shared.time.sleep(WRONG_PASSWORD_DELAY).await;
            return fail(-2, "invalid username or password");
        }
        Err(Decrypt::Panic) => return internal_error(),
    };
    let token = {
        let auth = lock(&shared.auth);
        match auth.user(&username) {
            Some(u) if u.enabled && u.password == plain => Some(issue(&shared, &auth, u)),
            _ => None,
        }
    };
    let Some(token) = token else {
        record_failure(&shared, ip);
        shared.time.sleep(WRONG_PASSWORD_DELAY).await;
        return fail(-2, "invalid username or password");
    };
    lock(&shared.auth).failures.remove(&ip);
    if fw.is_head() {
        let mut r = ok_null();
        set_cookie(&ctx, &mut r, &token, TOKEN_LIFETIME);
        r
    } else {
        ok(J::obj([("token", token.into())]))
    }
}

/// The Pro's `LoginRsp`: the token and a `count` it never sets.
fn pro_login_answer(token: String) -> J {
    J::obj([("token", token.into()), ("count", J::Int(0))])
}

/// The Pro's login: the password arrives in plaintext and is compared with the
/// account's (bcrypt on the device); there is no lockout and no cookie.
async fn pro_login(ctx: &Ctx) -> Response {
    let shared = &ctx.shared;
    let form = ctx.form();
    let (Ok(username), Ok(password)) = (
        form.string("Username", "username"),
        form.string("Password", "password"),
    ) else {
        shared.time.sleep(MALFORMED_DELAY).await;
        return fail(-1, "invalid parameters");
    };
    if username.is_empty() || password.is_empty() {
        shared.time.sleep(MALFORMED_DELAY).await;
        return fail(-1, "invalid parameters");
    }
    let token = {
        let auth = lock(&shared.auth);
        match auth.users.first() {
            Some(u) if u.username == username && u.password == password.as_bytes() => {
                Some(issue(shared, &auth, u))
            }
            _ => None,
        }
    };
    match token {
        Some(token) => ok(pro_login_answer(token)),
        None => {
            shared.time.sleep(WRONG_PASSWORD_DELAY).await;
            fail(-2, "invalid username or password")
        }
    }
}

fn logout(ctx: &Ctx) -> Response {
    let shared = &ctx.shared;
    if !shared.config.authentication {
        return ok_null();
    }
    let Some(p) = &ctx.principal else {
        return ok_null();
    };
    if shared.config.firmware.is_head() {
        {
            let mut auth = lock(&shared.auth);
            if let Some(u) = auth.users.iter_mut().find(|u| u.username == p.username) {
                u.token_version += 1;
            }
        }
        shared.sessions_changed();
        let mut r = ok_null();
        set_cookie(ctx, &mut r, "", -1);
        r
    } else {
        // Single-user firmware regenerates the global secret: every session dies.
        lock(&shared.auth).secret = crypto::random_secret();
        shared.sessions_changed();
        ok_null()
    }
}

fn account(ctx: &Ctx) -> Response {
    let mut p = ctx.principal.clone().unwrap_or_else(implicit_admin);
    if ctx.shared.config.firmware.is_pro() {
        // The Pro answers with the one stored account, whoever asks.
        if let Some(owner) = lock(&ctx.shared.auth).users.first() {
            p.username.clone_from(&owner.username);
        }
    }
    if ctx.shared.config.firmware.is_head() {
        ok(J::obj([
            ("username", p.username.into()),
            ("role", p.role.as_str().into()),
        ]))
    } else {
        ok(J::obj([("username", p.username.into())]))
    }
}

fn is_updated(ctx: &Ctx) -> Response {
    let updated = !ctx.shared.config.authentication || lock(&ctx.shared.auth).password_updated;
    ok(J::obj([("isUpdated", updated.into())]))
}

fn decrypt_field(value: &str) -> Result<Vec<u8>, Decrypt> {
    match crypto::decode_decrypt(value) {
        Ok(p) if p.is_empty() => Err(Decrypt::Invalid),
        other => other,
    }
}

fn validate_new_password(p: &[u8]) -> Result<(), &'static str> {
    if (8..=72).contains(&p.len()) {
        Ok(())
    } else {
        Err("password must be between 8 and 72 bytes")
    }
}

fn change_password(ctx: &Ctx) -> Response {
    let shared = &ctx.shared;
    let form = ctx.form();
    if shared.config.firmware.is_head() {
        let (Ok(current), Ok(new)) = (
            form.string("CurrentPassword", "currentPassword"),
            form.string("Password", "password"),
        ) else {
            return fail(-1, "invalid parameters");
        };
        if new.is_empty() {
            return fail(-1, "invalid parameters");
        }
        let Some(p) = &ctx.principal else {
            return fail(-2, "invalid session");
        };
        if current.is_empty() {
            return fail(-3, "current password is required");
        }
        let current = match decrypt_field(&current) {
            Ok(c) => c,
            Err(Decrypt::Panic) => return internal_error(),
            Err(Decrypt::Invalid) => return fail(-3, "current password is incorrect"),
        };
        let new = match decrypt_field(&new) {
            Ok(n) => n,
            Err(Decrypt::Panic) => return internal_error(),
            Err(Decrypt::Invalid) => return fail(-5, "invalid password"),
        };
        if let Err(e) = validate_new_password(&new) {
            return fail(-5, e);
        }
        let mut r = {
            let mut auth = lock(&shared.auth);
            let Some(user) = auth.users.iter_mut().find(|u| u.username == p.username) else {
                return fail(-2, "invalid session");
            };
            if user.password != current {
                return fail(-3, "current password is incorrect");
            }
            user.password = new;
            user.token_version += 1;
            auth.password_updated = true;
            ok_null()
        };
        shared.sessions_changed();
        set_cookie(ctx, &mut r, "", -1);
        r
    } else {
        let (Ok(username), Ok(password)) = (
            form.string("Username", "username"),
            form.string("Password", "password"),
        ) else {
            return fail(-1, "invalid parameters");
        };
        if username.is_empty() || password.is_empty() {
            return fail(-1, "invalid parameters");
        }
        // The Pro hashes the field as it arrives; the Cube decrypts it first.
        let new = if shared.config.firmware.is_pro() {
            password.into_bytes()
        } else {
            match decrypt_field(&password) {
                Ok(n) => n,
                Err(Decrypt::Panic) => return internal_error(),
                Err(Decrypt::Invalid) => return fail(-2, "invalid password"),
            }
        };
        let is_default = new == b"admin";
        let mut auth = lock(&shared.auth);
        let role = auth.users.first().map_or(Role::Admin, |u| u.role);
        auth.users = vec![User {
            username,
            password: new,
            role,
            enabled: true,
            token_version: 1,
            system_account: true,
        }];
        auth.password_updated = !(shared.config.firmware.is_pro() && is_default);
        ok_null()
    }
}

fn user_json(u: &User) -> J {
    let mut fields = vec![
        ("username", J::from(u.username.clone())),
        ("role", u.role.as_str().into()),
        ("enabled", u.enabled.into()),
    ];
    if u.system_account {
        fields.push(("systemAccount", true.into()));
    }
    J::Obj(fields)
}

fn list_users(ctx: &Ctx) -> Response {
    let auth = lock(&ctx.shared.auth);
    ok(J::obj([(
        "users",
        J::Arr(auth.users.iter().map(user_json).collect()),
    )]))
}

fn valid_username(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 32
        && bytes[0].is_ascii_alphanumeric()
        && bytes[1..]
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

fn create_user(ctx: &Ctx) -> Response {
    let form = ctx.form();
    let (Ok(username), Ok(password), Ok(role)) = (
        form.string("Username", "username"),
        form.string("Password", "password"),
        form.string("Role", "role"),
    ) else {
        return fail(-1, "invalid parameters");
    };
    if username.is_empty() || password.is_empty() || role.is_empty() {
        return fail(-1, "invalid parameters");
    }
    let password = match decrypt_field(&password) {
        Ok(p) => p,
        Err(Decrypt::Panic) => return internal_error(),
        Err(Decrypt::Invalid) => return fail(-2, "invalid password"),
    };
    if let Err(e) = validate_new_password(&password) {
        return fail(-2, e);
    }
    let Some(role) = Role::parse(&role) else {
        return fail(-3, "invalid role");
    };
    if !valid_username(&username) {
        return fail(-3, "invalid username");
    }
    let mut auth = lock(&ctx.shared.auth);
    if auth.user(&username).is_some() {
        return fail(-3, "username already exists");
    }
    auth.users.push(User {
        username,
        password,
        role,
        enabled: true,
        token_version: 1,
        system_account: false,
    });
    ok_null()
}

fn enabled_admins(auth: &Auth) -> usize {
    auth.users
        .iter()
        .filter(|u| u.enabled && u.role == Role::Admin)
        .count()
}

fn update_user(ctx: &Ctx, name: &str) -> Response {
    let form = ctx.form();
    let (Ok(role), Ok(enabled)) = (
        form.string("Role", "role"),
        form.boolean("Enabled", "enabled"),
    ) else {
        return fail(-1, "invalid parameters");
    };
    if role.is_empty() && enabled.is_none() {
        return fail(-1, "invalid parameters");
    }
    let me = ctx
        .principal
        .as_ref()
        .map(|p| p.username.clone())
        .unwrap_or_default();
    let result = {
        let mut auth = lock(&ctx.shared.auth);
        let new_role = if role.is_empty() {
            None
        } else {
            match Role::parse(&role) {
                Some(r) => Some(r),
                None => return fail(-2, "invalid role"),
            }
        };
        let Some(index) = auth.users.iter().position(|u| u.username == name) else {
            return fail(-2, "user not found");
        };
        let demote = new_role == Some(Role::User) || enabled == Some(false);
        if demote && name == me {
            return fail(-2, "administrators cannot disable or demote themselves");
        }
        if demote && auth.users[index].system_account {
            return fail(
                -2,
                "the device owner account must remain an enabled administrator",
            );
        }
        let was_admin = auth.users[index].enabled && auth.users[index].role == Role::Admin;
        if demote && was_admin && enabled_admins(&auth) <= 1 {
            return fail(-2, "at least one enabled admin is required");
        }
        let user = &mut auth.users[index];
        if let Some(r) = new_role {
            user.role = r;
        }
        if let Some(e) = enabled {
            user.enabled = e;
        }
        user.token_version += 1;
        ok_null()
    };
    ctx.shared.sessions_changed();
    result
}

fn delete_user(ctx: &Ctx, name: &str) -> Response {
    let me = ctx
        .principal
        .as_ref()
        .map(|p| p.username.clone())
        .unwrap_or_default();
    {
        let mut auth = lock(&ctx.shared.auth);
        let Some(index) = auth.users.iter().position(|u| u.username == name) else {
            return fail(-1, "user not found");
        };
        if name == me {
            return fail(-1, "administrators cannot delete themselves");
        }
        if auth.users[index].system_account {
            return fail(-1, "the device owner account cannot be deleted");
        }
        let u = &auth.users[index];
        if u.enabled && u.role == Role::Admin && enabled_admins(&auth) <= 1 {
            return fail(-1, "at least one enabled admin is required");
        }
        auth.users.remove(index);
    }
    ctx.shared.sessions_changed();
    ok_null()
}

fn reset_user_password(ctx: &Ctx, name: &str) -> Response {
    let form = ctx.form();
    let Ok(password) = form.string("Password", "password") else {
        return fail(-1, "invalid parameters");
    };
    if password.is_empty() {
        return fail(-1, "invalid parameters");
    }
    let password = match decrypt_field(&password) {
        Ok(p) => p,
        Err(Decrypt::Panic) => return internal_error(),
        Err(Decrypt::Invalid) => return fail(-4, "invalid password"),
    };
    {
        let mut auth = lock(&ctx.shared.auth);
        let Some(user) = auth.users.iter_mut().find(|u| u.username == name) else {
            return fail(-2, "user not found");
        };
        if user.system_account {
            return fail(-3, "the device owner must change its own password");
        }
        if let Err(e) = validate_new_password(&password) {
            return fail(-4, e);
        }
        user.password = password;
        user.token_version += 1;
    }
    ctx.shared.sessions_changed();
    ok_null()
}
