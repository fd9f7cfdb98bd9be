//! Opening `/api/ws`: TCP, TLS for `wss`, and the upgrade request written by
//! `handshake.rs` (not by tungstenite, which would log it, session cookie included, at
//! trace level), logging in again once when the device answers 401.

use secrecy::SecretString;
use tokio::io::{
    AsyncBufReadExt as _, AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _,
};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite;

use super::handshake;
use crate::client::Client;
use crate::error::{Error, Result};

/// A byte stream a socket runs over: plain TCP or TLS.
pub(super) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// The session's WebSocket.
pub(super) type Socket = WebSocketStream<Box<dyn Io>>;

/// Opens `/api/ws` with the session cookie, logging in again once on 401.
pub(super) async fn connect(client: &Client) -> Result<Socket> {
    for attempt in 0..2 {
        let (generation, token) = client.ws_cookie().await?;
        match open(client, token.as_ref()).await {
            Err(Upgrade::Status(401)) if attempt == 0 => client.ws_relogin(generation).await?,
            Err(Upgrade::Status(401)) => {
                return Err(Error::SessionExpired {
                    endpoint: "GET /api/ws".to_owned(),
                    repeated: true,
                });
            }
            Err(Upgrade::Status(403)) => {
                return Err(Error::Forbidden {
                    endpoint: "GET /api/ws".to_owned(),
                });
            }
            Err(Upgrade::Status(status)) => {
                return Err(Error::Http {
                    endpoint: "GET /api/ws".to_owned(),
                    status,
                });
            }
            Err(Upgrade::Failed(e)) => return Err(e),
            Ok(socket) => return Ok(socket),
        }
    }
    Err(Error::ws("cannot open the session", None))
}

enum Upgrade {
    Status(u16),
    Failed(Error),
}

async fn open(
    client: &Client,
    token: Option<&SecretString>,
) -> std::result::Result<Socket, Upgrade> {
    let endpoint = || "GET /api/ws".to_owned();
    let url = client.ws_url("/api/ws").map_err(Upgrade::Failed)?;
    let host = url.host_str().unwrap_or_default().to_owned();
    let port = url.port_or_known_default().unwrap_or(80);
    let connect_timeout = client.inner.connect_timeout;
    let connection_error = |source: crate::error::BoxError| {
        Upgrade::Failed(Error::Connection {
            endpoint: endpoint(),
            source,
        })
    };
    let timed_out = || {
        Upgrade::Failed(Error::Timeout {
            endpoint: endpoint(),
            after: connect_timeout,
        })
    };
    let tcp = tokio::time::timeout(
        connect_timeout,
        tokio::net::TcpStream::connect((host.trim_matches(['[', ']']), port)),
    )
    .await
    .map_err(|_| timed_out())?
    .map_err(|e| connection_error(Box::new(e)))?;
    let _ = tcp.set_nodelay(true);
    let stream: Box<dyn Io> = if url.scheme() == "wss" {
        let name =
            rustls::pki_types::ServerName::try_from(host.trim_matches(['[', ']']).to_owned())
                .map_err(|e| connection_error(Box::new(e)))?;
        let tls = tokio_rustls::TlsConnector::from(client.inner.tls.clone());
        let stream = tokio::time::timeout(connect_timeout, tls.connect(name, tcp))
            .await
            .map_err(|_| timed_out())?
            .map_err(|e| match crate::tls::handshake_failure(&e) {
                Some(reason) => Upgrade::Failed(Error::Tls {
                    endpoint: endpoint(),
                    reason,
                }),
                None => connection_error(Box::new(e)),
            })?;
        Box::new(stream)
    } else {
        Box::new(tcp)
    };
    // The host header as the URL names it: brackets around IPv6, the port if given.
    let authority = match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_owned(),
    };
    let key = tungstenite::handshake::client::generate_key();
    let request = handshake::request(
        url.path(),
        &authority,
        &key,
        &client.inner.user_agent,
        token,
    )
    .map_err(|handshake::BadRequest::Token| {
        Upgrade::Failed(Error::ws("the session token is not a valid header", None))
    })?;
    let timeout = client.inner.timeout;
    let upgrade = async {
        let mut stream = stream;
        stream
            .write_all(&request)
            .await
            .map_err(|e| connection_error(Box::new(e)))?;
        drop(request);
        let mut reader = tokio::io::BufReader::new(stream);
        let mut head = String::new();
        loop {
            let before = head.len();
            // Bounded, so that an answer without line breaks cannot grow `head` forever.
            let room = (handshake::MAX_HEAD + 1).saturating_sub(before) as u64;
            let read = (&mut reader)
                .take(room)
                .read_line(&mut head)
                .await
                .map_err(|e| connection_error(Box::new(e)))?;
            if read == 0 {
                return Err(Upgrade::Failed(Error::ws(
                    "the device closed the connection during the upgrade",
                    None,
                )));
            }
            if head.len() > handshake::MAX_HEAD {
                return Err(Upgrade::Failed(Error::ws(
                    "the upgrade answer's headers are too long",
                    None,
                )));
            }
            if head[before..].trim().is_empty() {
                break;
            }
        }
        match handshake::check_response(head.trim_end(), &key) {
            handshake::Answer::Upgraded => {}
            handshake::Answer::Status(status) => return Err(Upgrade::Status(status)),
            handshake::Answer::Invalid(reason) => {
                return Err(Upgrade::Failed(Error::ws(reason, None)));
            }
        }
        // The device may push right after the upgrade; those bytes are already buffered.
        let early = reader.buffer().to_vec();
        Ok(WebSocketStream::from_partially_read(
            reader.into_inner(),
            early,
            tungstenite::protocol::Role::Client,
            None,
        )
        .await)
    };
    tokio::time::timeout(timeout, upgrade).await.map_err(|_| {
        Upgrade::Failed(Error::Timeout {
            endpoint: endpoint(),
            after: timeout,
        })
    })?
}
