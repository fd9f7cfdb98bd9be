//! The [`Client`], its builder, the session and the HTTP transport.
//!
//! This is the only module (with the WebSocket transport) that touches the network.
//! Session rules:
//!
//! - The first call logs in; concurrent first calls wait for the same login (the session
//!   mutex is held across the login request), so a device sees one login, not a storm.
//! - On HTTP 401 the client logs in again once (again single-flight: a caller whose
//!   session was already replaced by another caller's login does not log in again), then
//!   repeats the request only if it is idempotent. A power press, a paste or typing is
//!   never repeated; the caller gets [`Error::SessionExpired`] and decides.
//! - Nothing is ever repeated after a timeout.
//! - A password is sent once per login: a rejected login is never retried in another
//!   encoding, because every failure counts towards the firmware's lockout and costs a
//!   2 s delay. [`PasswordEncoding::Auto`] decides the encoding before the first login
//!   with a request that carries no password.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{COOKIE, HeaderValue, SET_COOKIE};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::{Mutex, OnceCell};

use crate::capabilities::{Capabilities, FirmwareVersion, Hardware};
use crate::error::{Error, Result};
use crate::password;
use crate::tls::{CertificateFingerprint, TlsTrust, certificates_from_pem, client_config};
use crate::wire::{ApiRequest, Method, decode_envelope};

/// The session cookie the firmware reads.
pub(crate) const COOKIE_NAME: &str = "nano-kvm-token";

/// How the login password is sent.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
#[non_exhaustive]
pub enum PasswordEncoding {
    /// Decided once per client, before the first login and without sending the
    /// password: an unauthenticated `GET /api/storage/download/image/enabled`, a route
    /// only the NanoKVM Pro firmware has. The Cube and PCIe firmware answer 404 (no such
    /// route), so the password is obfuscated; the Pro answers 401 (the route exists
    /// behind its login), or the route's envelope where it skips authentication, so the
    /// password goes in plain text. Any other answer means obfuscation, the encoding of
    /// the common devices.
    ///
    /// Either way the password is then sent once: a rejected login is not repeated in
    /// the other encoding, since each failure counts towards the firmware's lockout.
    #[default]
    Auto,
    /// Only the web UI's obfuscation (NanoKVM Cube and PCIe).
    Obfuscated,
    /// Only plain text (NanoKVM Pro).
    Plaintext,
}

struct Credentials {
    username: String,
    password: SecretString,
}

/// Builds a [`Client`]. Obtain one with [`Client::builder`].
#[must_use = "a builder does nothing until `build` is called"]
pub struct ClientBuilder {
    url: String,
    credentials: Option<Credentials>,
    password_encoding: PasswordEncoding,
    timeout: Duration,
    connect_timeout: Duration,
    trust: TlsTrust,
    ca_pem: Option<Vec<u8>>,
    pin: Option<String>,
    user_agent: String,
    heartbeat: Duration,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("url", &redact_userinfo(&self.url))
            .field(
                "username",
                &self.credentials.as_ref().map(|c| c.username.as_str()),
            )
            .field("password", &self.credentials.as_ref().map(|_| "[redacted]"))
            .field("timeout", &self.timeout)
            .field("trust", &self.trust)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            credentials: None,
            password_encoding: PasswordEncoding::Auto,
            timeout: Duration::from_secs(15),
            connect_timeout: Duration::from_secs(5),
            trust: TlsTrust::SystemRoots,
            ca_pem: None,
            pin: None,
            user_agent: concat!("nanokvm-client/", env!("CARGO_PKG_VERSION")).to_owned(),
            heartbeat: Duration::from_secs(10),
        }
    }

    /// The account to log in with. Without credentials the client expects a device with
    /// authentication disabled.
    pub fn credentials(mut self, username: impl Into<String>, password: SecretString) -> Self {
        self.credentials = Some(Credentials {
            username: username.into(),
            password,
        });
        self
    }

    /// How the password is sent (default [`PasswordEncoding::Auto`]).
    pub fn password_encoding(mut self, encoding: PasswordEncoding) -> Self {
        self.password_encoding = encoding;
        self
    }

    /// The time limit for one request (default 15 s). Calls that block on the device
    /// (power presses, paste) add their own expected duration to it.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The time limit for opening a connection (default 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Trust the operating system's certificate store (the default).
    pub fn tls_system_roots(mut self) -> Self {
        self.trust = TlsTrust::SystemRoots;
        self.ca_pem = None;
        self.pin = None;
        self
    }

    /// Trust only the CA certificates in this PEM text.
    pub fn tls_ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_pem = Some(pem.into());
        self.pin = None;
        self
    }

    /// Trust exactly the certificate with this SHA-256 fingerprint, as
    /// `openssl x509 -noout -fingerprint -sha256` prints it. For the self-signed
    /// certificates NanoKVMs ship.
    pub fn tls_pin_sha256(mut self, fingerprint: impl Into<String>) -> Self {
        self.pin = Some(fingerprint.into());
        self.ca_pem = None;
        self
    }

    /// Any trust option, already built.
    pub fn tls_trust(mut self, trust: TlsTrust) -> Self {
        self.trust = trust;
        self.ca_pem = None;
        self.pin = None;
        self
    }

    /// The `User-Agent` header (default `nanokvm-client/<version>`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// How often a WebSocket session sends a heartbeat (default 10 s, like the web UI;
    /// the firmware closes a socket after 90 s of silence). Clamped to 50 ms..=60 s.
    pub fn heartbeat_interval(mut self, interval: Duration) -> Self {
        self.heartbeat = interval.clamp(Duration::from_millis(50), Duration::from_secs(60));
        self
    }

    /// Builds the client. Nothing is sent until the first call.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for a URL that is not `http`/`https`, a URL with a user name or
    /// password in it, unreadable certificates or a malformed fingerprint.
    pub fn build(self) -> Result<Client> {
        let base = parse_base_url(&self.url)?;
        let trust = if let Some(pem) = &self.ca_pem {
            TlsTrust::CustomCa(certificates_from_pem(pem)?)
        } else if let Some(pin) = &self.pin {
            TlsTrust::Pinned(CertificateFingerprint::parse(pin)?)
        } else {
            self.trust.clone()
        };
        let tls = client_config(&trust)?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls((*tls).clone())
            .user_agent(self.user_agent.clone())
            .connect_timeout(self.connect_timeout)
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()
            .map_err(|e| Error::config(format!("cannot build the HTTP client: {e}")))?;
        let has_credentials = self.credentials.is_some();
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base,
                credentials: self.credentials,
                password_encoding: self.password_encoding,
                timeout: self.timeout,
                connect_timeout: self.connect_timeout,
                tls,
                user_agent: self.user_agent,
                heartbeat: self.heartbeat,
                session: Mutex::new(Session {
                    generation: 0,
                    token: None,
                    established: !has_credentials,
                    logins: 0,
                    encoding: None,
                }),
                capabilities: OnceCell::new(),
            }),
        })
    }
}

/// The URL with any `user:password@` part replaced, for `Debug` (`build` refuses such
/// URLs, but a builder can be printed before that).
fn redact_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://[redacted]@{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}

fn parse_base_url(url: &str) -> Result<reqwest::Url> {
    if !url.contains("://") {
        return Err(missing_scheme(url));
    }
    let mut base = reqwest::Url::parse(url).map_err(|e| Error::config(format!("bad URL: {e}")))?;
    if !matches!(base.scheme(), "http" | "https") {
        return Err(Error::config("the URL must start with http:// or https://"));
    }
    if !base.username().is_empty() || base.password().is_some() {
        // The URL would end up in error messages; credentials belong in `credentials`.
        return Err(Error::config(
            "put credentials in `credentials`, not in the URL",
        ));
    }
    if base.host_str().is_none() {
        return Err(Error::config("the URL has no host"));
    }
    base.set_query(None);
    base.set_fragment(None);
    if !base.path().ends_with('/') {
        let path = format!("{}/", base.path());
        base.set_path(&path);
    }
    Ok(base)
}

/// The error for a device address without `http://` or `https://` (`127.0.0.1:8080`,
/// `nanokvm.local`), which would otherwise fail as a confusing relative URL or parse
/// with the host name as its scheme. The address is repeated only when it is a plain
/// host and port, so that nothing like `user:password@host` ends up in a message.
fn missing_scheme(url: &str) -> Error {
    let address = url.trim();
    let plain = !address.is_empty()
        && address
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    let example = if plain { address } else { "192.168.1.50" };
    Error::config(format!(
        "the device address has no scheme; add http:// or https:// (for example http://{example})"
    ))
}

struct Session {
    /// Bumped by every successful login; lets a caller see that someone else already
    /// replaced the session it found expired.
    generation: u64,
    token: Option<SecretString>,
    established: bool,
    logins: u64,
    /// The password encoding in use once decided (never `Auto`), so that re-logins do
    /// not probe again.
    encoding: Option<PasswordEncoding>,
}

/// A route only the NanoKVM Pro firmware has (its downloads live under
/// `/api/storage/download/`, the Cube's and PCIe's under `/api/download/`). Asking for it
/// without a session tells the two firmware families apart without a login attempt.
const PRO_ONLY_ROUTE: &str = "/api/storage/download/image/enabled";

/// The password encoding for an unauthenticated `GET` of [`PRO_ONLY_ROUTE`] that was
/// answered with `status` and `body` (pure).
fn encoding_from_probe(status: u16, body: &[u8]) -> PasswordEncoding {
    let envelope = || {
        serde_json::from_slice::<Value>(body)
            .is_ok_and(|v| v.get("code").is_some_and(Value::is_i64))
    };
    match status {
        // The route exists behind a login, or answers without one (loopback clients and
        // devices with authentication disabled): a Pro.
        401 => PasswordEncoding::Plaintext,
        200 if envelope() => PasswordEncoding::Plaintext,
        // 404 from the Cube and PCIe firmware, which lack the route; anything else (a
        // proxy's page, a redirect loop) says nothing, so the common encoding.
        _ => PasswordEncoding::Obfuscated,
    }
}

pub(crate) struct Inner {
    http: reqwest::Client,
    base: reqwest::Url,
    credentials: Option<Credentials>,
    password_encoding: PasswordEncoding,
    pub(crate) timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) tls: Arc<rustls::ClientConfig>,
    pub(crate) user_agent: String,
    pub(crate) heartbeat: Duration,
    session: Mutex<Session>,
    capabilities: OnceCell<Capabilities>,
}

/// A NanoKVM client. Cheap to clone: clones share the connection pool, the session and
/// the negotiated capabilities.
///
/// Area handlers group the API: [`Client::device`], [`Client::power`],
/// [`Client::hdmi`], [`Client::hid`], [`Client::storage`], [`Client::network`],
/// [`Client::system`], [`Client::ai`], plus [`Client::screenshot`] and [`Client::ws`]
/// for the keyboard and mouse session.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("url", &self.inner.base.as_str())
            .field(
                "username",
                &self.inner.credentials.as_ref().map(|c| c.username.as_str()),
            )
            .finish_non_exhaustive()
    }
}

/// What a successful login produced.
enum LoginOutcome {
    Token(SecretString),
    /// Authentication is disabled, or the token travels in a cookie the client could
    /// not see.
    NoToken,
}

impl Client {
    /// Starts building a client for the device at `url` (`http://192.168.1.50` or
    /// `https://nanokvm.local`).
    pub fn builder(url: impl Into<String>) -> ClientBuilder {
        ClientBuilder::new(url)
    }

    /// The device's base URL.
    #[must_use]
    pub fn base_url(&self) -> &str {
        self.inner.base.as_str()
    }

    /// Logs in now (otherwise the first call does). Concurrent callers share one login.
    ///
    /// # Errors
    ///
    /// [`Error::AuthenticationFailed`], [`Error::LockedOut`], or transport errors.
    pub async fn login(&self) -> Result<()> {
        self.session().await.map(|_| ())
    }

    /// How many logins this client (and its clones) performed, for diagnostics.
    pub async fn login_count(&self) -> u64 {
        self.inner.session.lock().await.logins
    }

    /// Logs out (`POST /api/auth/logout`). On firmware 2.5.0 this invalidates every
    /// session of every client; later firmware revokes all of this user's sessions.
    ///
    /// # Errors
    ///
    /// Transport errors.
    pub async fn logout(&self) -> Result<()> {
        let req = ApiRequest::post("/api/auth/logout", json!({}));
        let result: Result<Value> = self.call(req).await;
        let mut session = self.inner.session.lock().await;
        session.token = None;
        session.established = self.inner.credentials.is_none();
        result.map(|_| ())
    }

    /// What the device is and can do: application version, image version and hardware,
    /// read once and cached for the life of the client and its clones.
    ///
    /// # Errors
    ///
    /// Transport, authentication or decoding errors.
    pub async fn capabilities(&self) -> Result<&Capabilities> {
        self.inner
            .capabilities
            .get_or_try_init(|| async {
                #[derive(serde::Deserialize)]
                struct Info {
                    #[serde(default)]
                    application: String,
                    #[serde(default)]
                    image: String,
                }
                #[derive(serde::Deserialize)]
                struct Hw {
                    version: String,
                }
                let info: Info = self.call(ApiRequest::get("/api/vm/info")).await?;
                let hw: Hw = self.call(ApiRequest::get("/api/vm/hardware")).await?;
                Ok(Capabilities {
                    application: FirmwareVersion::parse(&info.application),
                    image: info.image,
                    hardware: Hardware::from_wire(&hw.version),
                })
            })
            .await
    }

    /// The capabilities if they were already read (no request).
    pub(crate) fn cached_capabilities(&self) -> Option<&Capabilities> {
        self.inner.capabilities.get()
    }

    /// Returns the session token (if any), logging in first when needed.
    pub(crate) async fn session(&self) -> Result<(u64, Option<SecretString>)> {
        let mut session = self.inner.session.lock().await;
        if !session.established {
            self.login_locked(&mut session).await?;
        }
        Ok((session.generation, session.token.clone()))
    }

    /// Logs in again unless another caller already did since `seen_generation`.
    async fn relogin(&self, seen_generation: u64) -> Result<()> {
        let mut session = self.inner.session.lock().await;
        if session.established && session.generation != seen_generation {
            return Ok(());
        }
        self.login_locked(&mut session).await
    }

    async fn login_locked(&self, session: &mut Session) -> Result<()> {
        let Some(credentials) = &self.inner.credentials else {
            return Err(Error::CredentialsRequired {
                endpoint: "POST /api/auth/login".to_owned(),
            });
        };
        let encoding = match session.encoding {
            Some(encoding) => encoding,
            None => {
                let encoding = match self.inner.password_encoding {
                    PasswordEncoding::Auto => self.probe_password_encoding().await?,
                    fixed => fixed,
                };
                session.encoding = Some(encoding);
                encoding
            }
        };
        // One attempt: a wrong password must cost one failure towards the lockout.
        let field = match encoding {
            PasswordEncoding::Plaintext => credentials.password.clone(),
            _ => password::obfuscate(&credentials.password),
        };
        let outcome = self.login_once(credentials, &field).await?;
        session.token = match outcome {
            LoginOutcome::Token(token) => Some(token),
            LoginOutcome::NoToken => None,
        };
        session.generation += 1;
        session.logins += 1;
        session.established = true;
        tracing::debug!(generation = session.generation, "logged in");
        Ok(())
    }

    /// Decides [`PasswordEncoding::Auto`] with an unauthenticated request that carries
    /// no password (see [`encoding_from_probe`]).
    async fn probe_password_encoding(&self) -> Result<PasswordEncoding> {
        let endpoint = format!("GET {PRO_ONLY_ROUTE}");
        let timeout = self.inner.timeout;
        let response = self
            .inner
            .http
            .get(self.url(PRO_ONLY_ROUTE)?)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| self.transport_error(&endpoint, timeout, e))?;
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(|e| self.transport_error(&endpoint, timeout, e))?;
        let encoding = encoding_from_probe(status, &body);
        tracing::debug!(
            status,
            ?encoding,
            "password encoding chosen by the firmware probe"
        );
        Ok(encoding)
    }

    async fn login_once(
        &self,
        credentials: &Credentials,
        password_field: &SecretString,
    ) -> Result<LoginOutcome> {
        let endpoint = "POST /api/auth/login";
        let body = json!({
            "username": credentials.username,
            "password": password_field.expose_secret(),
        });
        let response = self
            .inner
            .http
            .post(self.url("/api/auth/login")?)
            .timeout(self.inner.timeout)
            .json(&body)
            .send()
            .await
            .map_err(|e| self.transport_error(endpoint, self.inner.timeout, e))?;
        let status = response.status().as_u16();
        let cookie_token = response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .find_map(|v| cookie_value(v.to_str().ok()?, COOKIE_NAME));
        if status != 200 {
            return Err(Error::Http {
                endpoint: endpoint.to_owned(),
                status,
            });
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|e| self.transport_error(endpoint, self.inner.timeout, e))?;
        let data: Value = match decode_envelope(endpoint, &bytes) {
            Ok(data) => data,
            Err(Error::Device { code: -2, .. }) => return Err(Error::AuthenticationFailed),
            Err(Error::Device { code: -5, .. }) => return Err(Error::LockedOut),
            Err(e) => return Err(e),
        };
        Ok(login_token(cookie_token, &data))
    }

    fn url(&self, path: &str) -> Result<reqwest::Url> {
        self.inner
            .base
            .join(path.trim_start_matches('/'))
            .map_err(|e| Error::config(format!("bad path {path}: {e}")))
    }

    pub(crate) fn ws_url(&self, path: &str) -> Result<reqwest::Url> {
        let mut url = self.url(path)?;
        let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
        url.set_scheme(scheme)
            .map_err(|()| Error::config("cannot build the WebSocket URL"))?;
        Ok(url)
    }

    fn transport_error(&self, endpoint: &str, after: Duration, error: reqwest::Error) -> Error {
        if error.is_timeout() {
            Error::Timeout {
                endpoint: endpoint.to_owned(),
                after,
            }
        } else if let Some(reason) = crate::tls::handshake_failure(&error) {
            Error::Tls {
                endpoint: endpoint.to_owned(),
                reason,
            }
        } else {
            Error::Connection {
                endpoint: endpoint.to_owned(),
                source: Box::new(error.without_url()),
            }
        }
    }

    /// Sends `req` with the session cookie, handling 401 as the module docs describe,
    /// and decodes the envelope's `data` as `T`.
    pub(crate) async fn call<T: DeserializeOwned>(&self, req: ApiRequest) -> Result<T> {
        let bytes = self.call_raw(&req).await?;
        decode_envelope(&req.endpoint(), &bytes)
    }

    async fn call_raw(&self, req: &ApiRequest) -> Result<Vec<u8>> {
        let endpoint = req.endpoint();
        let (generation, token) = self.session().await?;
        let first = self.send_once(req, token.as_ref()).await?;
        if first.0 != 401 {
            return self.check_status(&endpoint, first);
        }
        if self.inner.credentials.is_none() {
            return Err(Error::CredentialsRequired { endpoint });
        }
        tracing::debug!(%endpoint, "session rejected; logging in again");
        self.relogin(generation).await?;
        if !req.idempotent {
            return Err(Error::SessionExpired {
                endpoint,
                repeated: false,
            });
        }
        let (_, token) = self.session().await?;
        let second = self.send_once(req, token.as_ref()).await?;
        if second.0 == 401 {
            return Err(Error::SessionExpired {
                endpoint,
                repeated: true,
            });
        }
        self.check_status(&endpoint, second)
    }

    fn check_status(&self, endpoint: &str, (status, body): (u16, Vec<u8>)) -> Result<Vec<u8>> {
        match status {
            200..=299 => Ok(body),
            403 => Err(Error::Forbidden {
                endpoint: endpoint.to_owned(),
            }),
            404 => Err(Error::NotSupported {
                operation: endpoint.to_owned(),
                firmware: self
                    .cached_capabilities()
                    .map_or_else(|| "this firmware".to_owned(), Capabilities::describe),
                needs: None,
            }),
            status => Err(Error::Http {
                endpoint: endpoint.to_owned(),
                status,
            }),
        }
    }

    fn cookie_header(token: Option<&SecretString>) -> Option<HeaderValue> {
        let token = token?;
        let mut value =
            HeaderValue::from_str(&format!("{COOKIE_NAME}={}", token.expose_secret())).ok()?;
        value.set_sensitive(true);
        Some(value)
    }

    async fn send_once(
        &self,
        req: &ApiRequest,
        token: Option<&SecretString>,
    ) -> Result<(u16, Vec<u8>)> {
        let endpoint = req.endpoint();
        let timeout = self.inner.timeout + req.extra_timeout;
        let method = match req.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Delete => reqwest::Method::DELETE,
        };
        let mut builder = self
            .inner
            .http
            .request(method, self.url(&req.path)?)
            .timeout(timeout);
        if let Some(cookie) = Self::cookie_header(token) {
            builder = builder.header(COOKIE, cookie);
        }
        if let Some(body) = &req.body {
            builder = builder.json(body);
        }
        let response = builder
            .send()
            .await
            .map_err(|e| self.transport_error(&endpoint, timeout, e))?;
        let status = response.status().as_u16();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| self.transport_error(&endpoint, timeout, e))?;
        Ok((status, bytes.to_vec()))
    }

    /// Opens a streaming GET (MJPEG), with the session cookie and one re-login on 401.
    pub(crate) async fn get_stream(&self, path: &str) -> Result<reqwest::Response> {
        let endpoint = format!("GET {path}");
        for attempt in 0..2 {
            let (generation, token) = self.session().await?;
            let mut builder = self.inner.http.get(self.url(path)?);
            if let Some(cookie) = Self::cookie_header(token.as_ref()) {
                builder = builder.header(COOKIE, cookie);
            }
            // The caller applies its own timeout around this, because the firmware sends
            // no headers at all until the first frame exists.
            let response = builder
                .send()
                .await
                .map_err(|e| self.transport_error(&endpoint, self.inner.timeout, e))?;
            let status = response.status().as_u16();
            if status == 401 && attempt == 0 && self.inner.credentials.is_some() {
                self.relogin(generation).await?;
                continue;
            }
            if status == 401 {
                return Err(if self.inner.credentials.is_some() {
                    Error::SessionExpired {
                        endpoint,
                        repeated: true,
                    }
                } else {
                    Error::CredentialsRequired { endpoint }
                });
            }
            self.check_status(&endpoint, (status, Vec::new()))?;
            return Ok(response);
        }
        Err(Error::SessionExpired {
            endpoint,
            repeated: true,
        })
    }

    /// Sends a multipart upload (never repeated: uploads are large and not idempotent).
    pub(crate) async fn post_multipart(
        &self,
        path: &str,
        form: reqwest::multipart::Form,
        extra_headers: &[(&str, String)],
    ) -> Result<Vec<u8>> {
        let endpoint = format!("POST {path}");
        let (generation, token) = self.session().await?;
        let mut builder = self.inner.http.post(self.url(path)?).multipart(form);
        if let Some(cookie) = Self::cookie_header(token.as_ref()) {
            builder = builder.header(COOKIE, cookie);
        }
        for (name, value) in extra_headers {
            builder = builder.header(*name, value);
        }
        let response = builder
            .send()
            .await
            .map_err(|e| self.transport_error(&endpoint, self.inner.timeout, e))?;
        let status = response.status().as_u16();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| self.transport_error(&endpoint, self.inner.timeout, e))?;
        if status == 401 {
            if self.inner.credentials.is_none() {
                return Err(Error::CredentialsRequired { endpoint });
            }
            self.relogin(generation).await?;
            return Err(Error::SessionExpired {
                endpoint,
                repeated: false,
            });
        }
        self.check_status(&endpoint, (status, bytes.to_vec()))
    }

    /// The session cookie for a WebSocket upgrade (logging in first when needed).
    pub(crate) async fn ws_cookie(&self) -> Result<(u64, Option<SecretString>)> {
        self.session().await
    }

    /// Logs in again after a WebSocket upgrade was refused with 401.
    pub(crate) async fn ws_relogin(&self, seen_generation: u64) -> Result<()> {
        if self.inner.credentials.is_none() {
            return Err(Error::CredentialsRequired {
                endpoint: "GET /api/ws".to_owned(),
            });
        }
        self.relogin(seen_generation).await
    }
}

/// Finds `name=value` in one `Set-Cookie` header. An empty value (a cookie being
/// cleared) counts as absent.
pub(crate) fn cookie_value(header: &str, name: &str) -> Option<SecretString> {
    let first = header.split(';').next()?.trim();
    let (key, value) = first.split_once('=')?;
    let value = value.trim().trim_matches('"');
    (key.trim() == name && !value.is_empty()).then(|| SecretString::from(value.to_owned()))
}

/// Picks the session token: the cookie (current firmware), else `data.token` (2.5.0 and
/// earlier, and the Pro), else none (authentication disabled). The token `"disabled"`
/// means authentication is off.
fn login_token(cookie: Option<SecretString>, data: &Value) -> LoginOutcome {
    if let Some(token) = cookie {
        return LoginOutcome::Token(token);
    }
    match data.get("token").and_then(Value::as_str) {
        Some("disabled" | "") | None => LoginOutcome::NoToken,
        Some(token) => LoginOutcome::Token(SecretString::from(token.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_normalised_and_checked() {
        assert_eq!(
            parse_base_url("http://10.0.0.2").unwrap().as_str(),
            "http://10.0.0.2/"
        );
        assert_eq!(
            parse_base_url("https://kvm/prefix?x=1").unwrap().as_str(),
            "https://kvm/prefix/"
        );
        assert!(parse_base_url("ftp://kvm").is_err());
        let err = parse_base_url("http://admin:hunter2@kvm").unwrap_err();
        assert!(!err.to_string().contains("hunter2"));
        assert!(parse_base_url("not a url").is_err());
    }

    #[test]
    fn addresses_without_a_scheme_get_a_hint() {
        for (address, example) in [
            ("127.0.0.1:8080", "http://127.0.0.1:8080"),
            ("nanokvm.local", "http://nanokvm.local"),
            ("nanokvm.local:8080", "http://nanokvm.local:8080"),
            ("[::1]:80", "http://[::1]:80"),
            ("admin:hunter2@kvm", "http://192.168.1.50"),
        ] {
            let err = Client::builder(address).build().unwrap_err();
            let message = err.to_string();
            assert!(
                message.contains(&format!("add http:// or https:// (for example {example})")),
                "{message}"
            );
            assert!(!message.contains("hunter2"), "{message}");
        }
    }

    #[test]
    fn the_probe_tells_the_pro_from_the_cube() {
        let envelope = br#"{"code":0,"msg":"success","data":{"enabled":true}}"#;
        for (status, body, expected) in [
            (
                404,
                &b"404 page not found"[..],
                PasswordEncoding::Obfuscated,
            ),
            (401, &br#""unauthorized""#[..], PasswordEncoding::Plaintext),
            (200, &envelope[..], PasswordEncoding::Plaintext),
            (
                200,
                &b"<!doctype html><html></html>"[..],
                PasswordEncoding::Obfuscated,
            ),
            (500, &b""[..], PasswordEncoding::Obfuscated),
            (307, &b""[..], PasswordEncoding::Obfuscated),
        ] {
            assert_eq!(encoding_from_probe(status, body), expected, "{status}");
        }
    }

    #[test]
    fn cookies_are_read_from_set_cookie() {
        let v = cookie_value(
            "nano-kvm-token=abc.def; Path=/; Max-Age=2678400; HttpOnly",
            COOKIE_NAME,
        )
        .unwrap();
        assert_eq!(v.expose_secret(), "abc.def");
        assert!(cookie_value("other=1; Path=/", COOKIE_NAME).is_none());
        assert!(cookie_value("nano-kvm-token=; Max-Age=-1", COOKIE_NAME).is_none());
    }

    #[test]
    fn tokens_come_from_cookie_then_body() {
        let body = json!({"token": "from-body"});
        match login_token(Some(SecretString::from("from-cookie")), &body) {
            LoginOutcome::Token(t) => assert_eq!(t.expose_secret(), "from-cookie"),
            LoginOutcome::NoToken => panic!("expected a token"),
        }
        match login_token(None, &body) {
            LoginOutcome::Token(t) => assert_eq!(t.expose_secret(), "from-body"),
            LoginOutcome::NoToken => panic!("expected a token"),
        }
        assert!(matches!(
            login_token(None, &json!({"token": "disabled"})),
            LoginOutcome::NoToken
        ));
        assert!(matches!(
            login_token(None, &Value::Null),
            LoginOutcome::NoToken
        ));
    }

    #[test]
    fn debug_output_hides_the_password() {
        let builder = Client::builder("http://kvm")
            .credentials("admin", SecretString::from("hunter2-secret"));
        assert!(!format!("{builder:?}").contains("hunter2"));
        let in_url = Client::builder("https://admin:hunter2@kvm:8443/x?y");
        let debug = format!("{in_url:?}");
        assert!(
            !debug.contains("hunter2") && debug.contains("https://[redacted]@kvm:8443/x?y"),
            "{debug}"
        );
        assert_eq!(redact_userinfo("http://kvm/a@b"), "http://kvm/a@b");
        let client = builder.build().unwrap();
        let debug = format!("{client:?}");
        assert!(!debug.contains("hunter2") && debug.contains("admin"));
    }
}
