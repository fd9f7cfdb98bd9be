//! The background task that owns the socket: it writes the reports operations ask for
//! (refusing the rest of an operation whose connection was lost), sends heartbeats,
//! keeps the device's latest pushes and broadcasts them, and reconnects with backoff
//! when the socket drops.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use nanokvm_hid::AbsolutePosition;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio_tungstenite::tungstenite::Message;

use super::connect::{Socket, connect};
use super::frame::{self, Frame, LegacyEncoder, Report};
use super::held::Held;
use super::push::{self, CaptureStatus, Push};
use crate::api::hid::KeyboardLeds;
use crate::capabilities::WsFraming;
use crate::client::Client;
use crate::error::{Error, Result};

/// What a session asks of its task.
pub(super) enum Command {
    Send {
        reports: Vec<Report>,
        /// The connection the operation started on, if it is a later step of one.
        connection: Option<u64>,
        /// Answers with the connection the reports were written to.
        done: oneshot::Sender<Result<u64>>,
    },
    ReleaseAll,
}

/// What the task last learnt from the device, read by the session.
#[derive(Default)]
pub(super) struct Latest {
    pub(super) keyboard_leds: Option<KeyboardLeds>,
    pub(super) capture: Option<CaptureStatus>,
    pub(super) position: Option<AbsolutePosition>,
    pub(super) closed: Option<String>,
}

impl std::fmt::Debug for Latest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Latest").finish_non_exhaustive()
    }
}

/// The task behind one session.
pub(super) struct Task {
    pub(super) client: Client,
    pub(super) framing: WsFraming,
    pub(super) legacy: LegacyEncoder,
    pub(super) held: Held,
    pub(super) pushes: broadcast::Sender<Push>,
    pub(super) latest: Arc<Mutex<Latest>>,
    /// Counts the sockets opened; the current one's number.
    pub(super) connection: watch::Sender<u64>,
}

impl Task {
    pub(super) async fn run(
        mut self,
        mut socket: Socket,
        mut commands: mpsc::UnboundedReceiver<Command>,
    ) {
        let mut heartbeat = tokio::time::interval(self.client.inner.heartbeat);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        heartbeat.tick().await;
        loop {
            let broken = tokio::select! {
                command = commands.recv() => match command {
                    None => {
                        // The handle was dropped: release, then close.
                        let releases = self.held.releases();
                        let _ = self.write(&mut socket, &releases).await;
                        let _ = socket.close(None).await;
                        return;
                    }
                    Some(Command::ReleaseAll) => {
                        let releases = self.held.releases();
                        self.write(&mut socket, &releases).await.is_err()
                    }
                    Some(Command::Send { reports, connection, done }) => {
                        let current = *self.connection.borrow();
                        if connection.is_some_and(|c| c != current) {
                            let _ = done.send(Err(Error::ws(
                                "the connection to the device was lost during the operation, \
                                 so the rest of it was not sent (the device released what \
                                 was held)",
                                None,
                            )));
                            false
                        } else {
                            let result = self.write(&mut socket, &reports).await;
                            let broken = result.is_err();
                            let _ = done.send(result.map(|()| current));
                            broken
                        }
                    }
                },
                _ = heartbeat.tick() => {
                    let frame = match self.framing {
                        WsFraming::Binary => match frame::heartbeat() {
                            Frame::Binary(bytes) => Message::Binary(bytes.into()),
                            Frame::Text(text) => Message::Text(text.into()),
                        },
                        // The JSON protocol has no heartbeat; a ping keeps NAT state alive.
                        WsFraming::JsonArrays => Message::Ping(Vec::new().into()),
                    };
                    socket.send(frame).await.is_err()
                }
                incoming = socket.next() => match incoming {
                    Some(Ok(Message::Text(text))) => {
                        self.on_push(text.as_str());
                        false
                    }
                    Some(Ok(Message::Close(close))) => {
                        // On 4401 (session expired or revoked) the reconnect's upgrade gets
                        // a 401, which logs in again once.
                        if close.is_some_and(|c| u16::from(c.code) == 4401) {
                            tracing::debug!("websocket session revoked");
                        }
                        true
                    }
                    Some(Ok(_)) => false,
                    Some(Err(_)) | None => true,
                },
            };
            if broken {
                match self.reconnect().await {
                    Some(fresh) => {
                        socket = fresh;
                        self.connection.send_modify(|n| *n += 1);
                    }
                    None => return,
                }
            }
        }
    }

    fn on_push(&self, text: &str) {
        let Some(push) = push::parse(text) else {
            return;
        };
        {
            let mut latest = self
                .latest
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match &push {
                Push::KeyboardLeds(leds) => latest.keyboard_leds = leds.clone(),
                Push::CaptureStatus(status) => latest.capture = Some(status.clone()),
                _ => {}
            }
        }
        let _ = self.pushes.send(push);
    }

    async fn write(&mut self, socket: &mut Socket, reports: &[Report]) -> Result<()> {
        for report in reports {
            let frames = match self.framing {
                WsFraming::Binary => vec![frame::binary(report)],
                WsFraming::JsonArrays => self.legacy.encode(report),
            };
            for frame in frames {
                let message = match frame {
                    Frame::Binary(bytes) => Message::Binary(bytes.into()),
                    Frame::Text(text) => Message::Text(text.into()),
                };
                socket
                    .feed(message)
                    .await
                    .map_err(|e| Error::ws("cannot send a report", Some(Box::new(e))))?;
            }
            self.held.track(report);
        }
        socket
            .flush()
            .await
            .map_err(|e| Error::ws("cannot send a report", Some(Box::new(e))))
    }

    /// Reconnects with backoff; the device released everything when the socket closed.
    async fn reconnect(&mut self) -> Option<Socket> {
        self.held = Held::default();
        self.legacy = LegacyEncoder::new(self.legacy.invert_scroll);
        let mut delay = Duration::from_millis(250);
        let mut last = String::new();
        for _ in 0..6 {
            tokio::time::sleep(delay).await;
            match connect(&self.client).await {
                Ok(socket) => return Some(socket),
                Err(e) if e.is_auth() || e.is_tls() => {
                    last = e.to_string();
                    break;
                }
                Err(e) => last = e.to_string(),
            }
            delay = (delay * 2).min(Duration::from_secs(5));
        }
        tracing::debug!(error = %last, "websocket reconnect gave up");
        self.latest
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .closed = Some(format!(
            "the connection was lost and reconnecting failed: {last}"
        ));
        None
    }
}
