//! The public side of the keyboard and mouse session: [`WsSession`], [`Client::ws`]
//! that opens it, and `Op`, the guard that keeps a multi-step operation on the
//! connection it started on and releases everything if the operation fails or is
//! dropped.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use nanokvm_hid::{
    AbsolutePosition, AbsoluteReport, Chord, Encoder, KeySequence, KeyboardReport, Keymap,
    MouseButtons, RelativeReport, Stroke,
};
use secrecy::SecretString;
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use super::connect::connect;
use super::frame::{LegacyEncoder, Report};
use super::held::Held;
use super::push::{CaptureStatus, Push};
use super::task::{Command, Latest, Task};
use crate::api::hid::KeyboardLeds;
use crate::capabilities::WsFraming;
use crate::client::Client;
use crate::error::{Error, Result};

/// How long a click holds the button, and the gap between the clicks of a double-click.
pub const CLICK_HOLD: Duration = Duration::from_millis(50);
/// How long [`WsSession::tap`] holds a chord.
pub const TAP_HOLD: Duration = Duration::from_millis(50);

/// A keyboard and mouse session over `/api/ws`. Obtain with [`Client::ws`].
///
/// Dropping the session releases every held key and button and closes the socket.
#[derive(Debug)]
pub struct WsSession {
    commands: mpsc::UnboundedSender<Command>,
    pushes: broadcast::Sender<Push>,
    latest: Arc<Mutex<Latest>>,
    framing: WsFraming,
    connections: watch::Receiver<u64>,
}

/// One multi-step operation: its reports stay on the connection it started on, and
/// everything is released if it fails or is dropped before [`Op::finish`].
struct Op<'a> {
    session: &'a WsSession,
    connection: Option<u64>,
    armed: bool,
}

impl Op<'_> {
    async fn send(&mut self, reports: Vec<Report>) -> Result<()> {
        let written = self.session.send_on(self.connection, reports).await?;
        self.connection = Some(written);
        Ok(())
    }

    /// Sends one absolute report and remembers the pointer position.
    async fn absolute(&mut self, report: AbsoluteReport) -> Result<()> {
        self.session.lock().position = Some(report.position);
        self.send(vec![Report::Absolute(report)]).await
    }

    async fn chord(&mut self, chord: &Chord, hold: Duration) -> Result<()> {
        let press = chord
            .press_reports()
            .into_iter()
            .map(Report::Keyboard)
            .collect();
        self.send(press).await?;
        tokio::time::sleep(hold).await;
        let release = chord
            .release_reports()
            .into_iter()
            .map(Report::Keyboard)
            .collect();
        self.send(release).await
    }

    async fn click(&mut self, button: MouseButtons) -> Result<()> {
        self.send(vec![self.session.button_report(button)]).await?;
        tokio::time::sleep(CLICK_HOLD).await;
        self.send(vec![self.session.button_report(MouseButtons::NONE)])
            .await
    }

    fn finish(mut self) {
        self.armed = false;
    }
}

impl Drop for Op<'_> {
    fn drop(&mut self) {
        if self.armed {
            let _ = self.session.commands.send(Command::ReleaseAll);
        }
    }
}

impl Client {
    /// Opens a keyboard and mouse session on `/api/ws`, with the framing this firmware
    /// expects.
    ///
    /// # Errors
    ///
    /// Authentication, connection and capability errors.
    pub async fn ws(&self) -> Result<WsSession> {
        let caps = self.capabilities().await?;
        let framing = caps.ws_framing();
        let invert_scroll = !caps.is_pro() && !caps.application.at_least(2, 3, 1);
        let socket = connect(self).await?;
        let (commands, receiver) = mpsc::unbounded_channel();
        let (pushes, _) = broadcast::channel(64);
        let latest = Arc::new(Mutex::new(Latest::default()));
        let (connection, connections) = watch::channel(1);
        let task = Task {
            client: self.clone(),
            framing,
            legacy: LegacyEncoder::new(invert_scroll),
            held: Held::default(),
            pushes: pushes.clone(),
            latest: latest.clone(),
            connection,
        };
        tokio::spawn(task.run(socket, receiver));
        Ok(WsSession {
            commands,
            pushes,
            latest,
            framing,
            connections,
        })
    }
}

impl WsSession {
    /// The framing in use.
    #[must_use]
    pub fn framing(&self) -> WsFraming {
        self.framing
    }

    /// Receives the device's pushes from now on.
    #[must_use]
    pub fn subscribe(&self) -> broadcast::Receiver<Push> {
        self.pushes.subscribe()
    }

    /// The keyboard LEDs last pushed by the device (2.5.0 and later).
    #[must_use]
    pub fn keyboard_leds(&self) -> Option<KeyboardLeds> {
        self.lock().keyboard_leds.clone()
    }

    /// The capture status last pushed by the device (2.4.2 and later).
    #[must_use]
    pub fn capture_status(&self) -> Option<CaptureStatus> {
        self.lock().capture.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Latest> {
        self.latest
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How many times the socket was opened: 1, plus one for every reconnect.
    #[must_use]
    pub fn connection_count(&self) -> u64 {
        *self.connections.borrow()
    }

    /// Watches [`WsSession::connection_count`], to learn when the session reconnected
    /// (the device released everything held when the old socket closed, and reports sent
    /// just before may not have arrived).
    #[must_use]
    pub fn watch_connections(&self) -> watch::Receiver<u64> {
        self.connections.clone()
    }

    fn op(&self) -> Op<'_> {
        Op {
            session: self,
            connection: None,
            armed: true,
        }
    }

    fn closed_error(&self) -> Error {
        let reason = self
            .lock()
            .closed
            .clone()
            .unwrap_or_else(|| "the session is closed".to_owned());
        Error::ws(reason, None)
    }

    async fn send(&self, reports: Vec<Report>) -> Result<()> {
        self.send_on(None, reports).await.map(drop)
    }

    /// Sends reports, on `connection` only if given; answers with the connection used.
    async fn send_on(&self, connection: Option<u64>, reports: Vec<Report>) -> Result<u64> {
        let (done, wait) = oneshot::channel();
        self.commands
            .send(Command::Send {
                reports,
                connection,
                done,
            })
            .map_err(|_| self.closed_error())?;
        wait.await.map_err(|_| self.closed_error())?
    }

    /// Sends one raw keyboard report. What it holds stays held until a later report
    /// releases it (or the session is dropped).
    ///
    /// # Errors
    ///
    /// [`Error::WebSocket`] when the session is closed or the write failed.
    pub async fn keyboard_report(&self, report: KeyboardReport) -> Result<()> {
        self.send(vec![Report::Keyboard(report)]).await
    }

    /// Sends one raw relative mouse report.
    ///
    /// # Errors
    ///
    /// As [`WsSession::keyboard_report`].
    pub async fn relative_report(&self, report: RelativeReport) -> Result<()> {
        self.send(vec![Report::Relative(report)]).await
    }

    /// Sends one raw absolute pointer report.
    ///
    /// # Errors
    ///
    /// As [`WsSession::keyboard_report`].
    pub async fn absolute_report(&self, report: AbsoluteReport) -> Result<()> {
        self.lock().position = Some(report.position);
        self.send(vec![Report::Absolute(report)]).await
    }

    /// Presses a chord, holds it for `hold`, and releases it in reverse order.
    ///
    /// # Errors
    ///
    /// [`Error::WebSocket`] when a write fails or the session reconnected half-way (the
    /// rest is not sent); everything is released if a step fails.
    pub async fn press_chord(&self, chord: &Chord, hold: Duration) -> Result<()> {
        let mut op = self.op();
        op.chord(chord, hold).await?;
        op.finish();
        Ok(())
    }

    /// Presses and releases a chord, parsed from text like `ctrl+alt+delete`.
    ///
    /// # Errors
    ///
    /// [`Error::Hid`] for an unknown key name (nothing sent); as [`WsSession::press_chord`].
    pub async fn tap(&self, chord: &str) -> Result<()> {
        let chord: Chord = chord.parse()?;
        self.press_chord(&chord, TAP_HOLD).await
    }

    /// Taps each chord of a sequence (`ctrl+a ctrl+c`), waiting `delay` between chords.
    /// The sequence is one operation: it stops if the session reconnects half-way.
    ///
    /// # Errors
    ///
    /// As [`WsSession::press_chord`].
    pub async fn key_sequence(&self, sequence: &KeySequence, delay: Duration) -> Result<()> {
        let mut op = self.op();
        for (i, chord) in sequence.chords().iter().enumerate() {
            if i > 0 {
                tokio::time::sleep(delay).await;
            }
            op.chord(chord, TAP_HOLD).await?;
        }
        op.finish();
        Ok(())
    }

    /// Types `text` for a target with the given keymap, waiting `delay` after each key
    /// stroke. The keymap is the target's layout and operating system: a bare
    /// [`Layout`](nanokvm_hid::Layout) means Windows, `Layout::Cz.on(TargetOs::Linux)`
    /// names Linux. The whole text is checked first: if any character cannot be typed,
    /// nothing is sent. If the session reconnects half-way, typing stops with an error
    /// rather than leave a gap in the text.
    ///
    /// # Errors
    ///
    /// [`Error::Hid`] naming every untypeable character (nothing sent); as
    /// [`WsSession::press_chord`].
    pub async fn type_text(
        &self,
        text: &str,
        keymap: impl Into<Keymap>,
        delay: Duration,
    ) -> Result<()> {
        let encoded = Encoder::new(keymap).encode(text)?;
        self.type_strokes(&encoded.strokes, delay).await
    }

    /// Types strokes that are already encoded: for each stroke exactly
    /// [`Stroke::reports`] (its press and its release), waiting `delay` after each
    /// stroke, then one final all-zero release. The strokes are one operation, like
    /// [`WsSession::type_text`]: if the session reconnects half-way the rest is not sent,
    /// and whatever was held is released.
    ///
    /// A caller that encodes text itself uses this to send exactly the reports it
    /// checked, for example a policy gate that inspects the strokes before allowing
    /// them, so nothing is encoded a second time on the way out.
    ///
    /// # Errors
    ///
    /// As [`WsSession::press_chord`].
    pub async fn type_strokes(&self, strokes: &[Stroke], delay: Duration) -> Result<()> {
        let mut op = self.op();
        for stroke in strokes {
            op.send(stroke.reports().into_iter().map(Report::Keyboard).collect())
                .await?;
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
        }
        op.send(vec![Report::Keyboard(KeyboardReport::RELEASE)])
            .await?;
        op.finish();
        Ok(())
    }

    /// Types a secret (a password at a login prompt) like [`WsSession::type_text`], with
    /// one difference: if the keymap cannot type some of it, the error says how many
    /// characters, not which, so the secret does not end up in a log through the error.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when a character cannot be typed with `keymap` (nothing
    /// sent); as [`WsSession::press_chord`].
    pub async fn type_secret(
        &self,
        secret: &SecretString,
        keymap: impl Into<Keymap>,
        delay: Duration,
    ) -> Result<()> {
        use secrecy::ExposeSecret as _;
        let keymap = keymap.into();
        let text = secret.expose_secret();
        if Encoder::new(keymap).encode(text).is_err() {
            let count = text.chars().filter(|&c| !keymap.can_type(c)).count();
            return Err(Error::invalid(format!(
                "the secret has {count} character(s) the {keymap} layout cannot type"
            )));
        }
        self.type_text(text, keymap, delay).await
    }

    /// Moves the pointer to an absolute position.
    ///
    /// # Errors
    ///
    /// [`Error::WebSocket`].
    pub async fn move_to(&self, position: AbsolutePosition) -> Result<()> {
        self.absolute_report(AbsoluteReport {
            buttons: MouseButtons::NONE,
            position,
            wheel: 0,
        })
        .await
    }

    /// Moves the pointer to fractions of the screen (`0.5, 0.5` is the centre).
    ///
    /// # Errors
    ///
    /// [`Error::Hid`] for NaN or infinite values; [`Error::WebSocket`].
    pub async fn move_to_normalized(&self, x: f64, y: f64) -> Result<()> {
        self.move_to(AbsolutePosition::from_normalized(x, y)?).await
    }

    /// Moves the pointer to a pixel of a `width` × `height` screen.
    ///
    /// # Errors
    ///
    /// [`Error::Hid`] for a zero-sized screen; [`Error::WebSocket`].
    pub async fn move_to_pixels(&self, x: u32, y: u32, width: u32, height: u32) -> Result<()> {
        self.move_to(AbsolutePosition::from_pixels(x, y, width, height)?)
            .await
    }

    /// Moves the pointer by a relative amount, split into steps of at most 127.
    ///
    /// # Errors
    ///
    /// [`Error::WebSocket`].
    pub async fn move_by(&self, dx: i32, dy: i32) -> Result<()> {
        let reports = RelativeReport::moves(MouseButtons::NONE, dx, dy)
            .into_iter()
            .map(Report::Relative)
            .collect();
        self.lock().position = None;
        self.send(reports).await
    }

    fn button_report(&self, buttons: MouseButtons) -> Report {
        match self.lock().position {
            Some(position) => Report::Absolute(AbsoluteReport {
                buttons,
                position,
                wheel: 0,
            }),
            None => Report::Relative(RelativeReport {
                buttons,
                ..RelativeReport::default()
            }),
        }
    }

    /// Clicks `button` where the pointer is (on the absolute device after an absolute
    /// move, else on the relative one), holding it for [`CLICK_HOLD`].
    ///
    /// # Errors
    ///
    /// As [`WsSession::press_chord`]; the button is released if a step fails.
    pub async fn click(&self, button: MouseButtons) -> Result<()> {
        let mut op = self.op();
        op.click(button).await?;
        op.finish();
        Ok(())
    }

    /// Two clicks, [`CLICK_HOLD`] apart, as one operation.
    ///
    /// # Errors
    ///
    /// As [`WsSession::click`].
    pub async fn double_click(&self, button: MouseButtons) -> Result<()> {
        let mut op = self.op();
        op.click(button).await?;
        tokio::time::sleep(CLICK_HOLD).await;
        op.click(button).await?;
        op.finish();
        Ok(())
    }

    /// Presses `button` at `from`, moves to `to` in `steps` with the button held, and
    /// releases it, all on the absolute device.
    ///
    /// # Errors
    ///
    /// As [`WsSession::click`].
    pub async fn drag(
        &self,
        from: AbsolutePosition,
        to: AbsolutePosition,
        button: MouseButtons,
        steps: u16,
    ) -> Result<()> {
        let mut op = self.op();
        let at = |position, buttons| AbsoluteReport {
            buttons,
            position,
            wheel: 0,
        };
        op.absolute(at(from, MouseButtons::NONE)).await?;
        op.absolute(at(from, button)).await?;
        for position in drag_path(from, to, steps) {
            op.absolute(at(position, button)).await?;
        }
        op.absolute(at(to, MouseButtons::NONE)).await?;
        op.finish();
        Ok(())
    }

    /// Scrolls `amount` wheel steps; positive scrolls up.
    ///
    /// # Errors
    ///
    /// [`Error::WebSocket`].
    pub async fn scroll(&self, amount: i32) -> Result<()> {
        let reports = RelativeReport::scroll(MouseButtons::NONE, amount)
            .into_iter()
            .map(Report::Relative)
            .collect();
        self.send(reports).await
    }

    /// Releases every key and button this session holds.
    ///
    /// # Errors
    ///
    /// [`Error::WebSocket`] when the session is closed.
    pub async fn release_all(&self) -> Result<()> {
        self.commands
            .send(Command::ReleaseAll)
            .map_err(|_| self.closed_error())?;
        // A no-op round trip: once it is acknowledged, the release went out before it.
        self.send(Vec::new()).await
    }
}

/// The points a drag passes through after `from`, ending at `to` (at least one step).
fn drag_path(
    from: AbsolutePosition,
    to: AbsolutePosition,
    steps: u16,
) -> impl Iterator<Item = AbsolutePosition> {
    let steps = steps.max(1);
    let (fx, fy) = (f64::from(from.x()), f64::from(from.y()));
    let (tx, ty) = (f64::from(to.x()), f64::from(to.y()));
    (1..=steps).map(move |i| {
        let t = f64::from(i) / f64::from(steps);
        // Both ends are within 0..=0x7FFF, so every interpolated point is too.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        AbsolutePosition::new(
            (fx + (tx - fx) * t).round() as u16,
            (fy + (ty - fy) * t).round() as u16,
        )
    })
}
