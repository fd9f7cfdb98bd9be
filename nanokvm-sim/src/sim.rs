//! The simulator's public face: a builder, and a running instance to inspect and steer.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use nanokvm_hid::Layout;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::config::{Account, Config, FirmwareVersion, Hardware, Lockout, MachineConfig, Role};
use crate::error::Error;
use crate::machine::{Leds, MachineState, PowerState};
use crate::record::{HidReport, RequestRecord, WolPacket};
use crate::screen::{Screenshot, jpeg_quality};
use crate::state::{Shared, lock};
use crate::time::TimeScale;
use crate::transfer::DownloadState;
use crate::video::VideoStats;

/// Configures a [`Simulator`]; start it with [`SimulatorBuilder::start`].
#[derive(Debug, Clone)]
#[must_use]
pub struct SimulatorBuilder {
    firmware: Option<FirmwareVersion>,
    accounts: Vec<Account>,
    authentication: bool,
    lockout: Option<Lockout>,
    machine: MachineConfig,
    data_dir: Option<PathBuf>,
    time: TimeScale,
    width: u32,
    height: u32,
    hardware: Option<Hardware>,
    powered: bool,
    listen: SocketAddr,
    update_server: Option<String>,
}

impl Default for SimulatorBuilder {
    fn default() -> Self {
        Self {
            firmware: None,
            accounts: vec![Account::new("admin", "admin", Role::Admin)],
            authentication: true,
            lockout: None,
            machine: MachineConfig::default(),
            data_dir: None,
            time: TimeScale::REAL,
            width: 1920,
            height: 1080,
            hardware: None,
            powered: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            update_server: None,
        }
    }
}

impl SimulatorBuilder {
    /// The firmware version to play (default 2.5.1, or 1.2.13 on [`Hardware::Pro`]).
    /// [`FirmwareVersion::Pro1_2_13`] alone selects the Pro board too; a Cube version on
    /// the Pro board, or the Pro version on a Cube board, fails [`SimulatorBuilder::start`].
    pub fn firmware(mut self, firmware: FirmwareVersion) -> Self {
        self.firmware = Some(firmware);
        self
    }

    /// Replaces the accounts (default `admin`/`admin`, an admin). The first account is
    /// the device owner. Firmware before 2.5.1 uses only the first.
    pub fn accounts(mut self, accounts: impl IntoIterator<Item = Account>) -> Self {
        self.accounts = accounts.into_iter().collect();
        self
    }

    /// Adds an account next to the existing ones.
    pub fn account(mut self, account: Account) -> Self {
        self.accounts.push(account);
        self
    }

    /// Replaces the owner's credentials.
    pub fn credentials(mut self, username: &str, password: &str) -> Self {
        let owner = Account::new(username, password, Role::Admin);
        if self.accounts.is_empty() {
            self.accounts.push(owner);
        } else {
            self.accounts[0] = owner;
        }
        self
    }

    /// `false` plays `authentication: disable`: every route is open (default `true`).
    pub fn authentication(mut self, enabled: bool) -> Self {
        self.authentication = enabled;
        self
    }

    /// Enables brute-force lockout (off by default, as on the firmware).
    pub fn lockout(mut self, lockout: Lockout) -> Self {
        self.lockout = Some(lockout);
        self
    }

    /// The target machine's keyboard layout, used to decode what is typed (default US);
    /// short for setting [`MachineConfig::layout`] on the current machine section.
    pub fn layout(mut self, layout: Layout) -> Self {
        self.machine.layout = layout;
        self
    }

    /// The target machine: its user and password, layout, host name, boot order,
    /// installation time, and whether it starts logged in (default
    /// [`MachineConfig::new`]). Replaces any layout set before.
    pub fn machine(mut self, machine: MachineConfig) -> Self {
        self.machine = machine;
        self
    }

    /// The directory playing the device's `/data` (default: a fresh temporary one,
    /// removed when the simulator is dropped).
    pub fn data_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.data_dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// How firmware delays are scaled (default [`TimeScale::REAL`]).
    pub fn time_scale(mut self, time: TimeScale) -> Self {
        self.time = time;
        self
    }

    /// The target's screen resolution (default 1920x1080).
    pub fn resolution(mut self, width: u32, height: u32) -> Self {
        self.width = width;
        self.height = height;
        self
    }

    /// The board played (default Alpha, or Pro with the Pro firmware):
    /// `GET /api/vm/hardware`, the GPIO lines, whether the HDD LED is read, and with
    /// [`Hardware::Pro`] the Pro firmware and its routes.
    pub fn hardware(mut self, hardware: Hardware) -> Self {
        self.hardware = Some(hardware);
        self
    }

    /// Whether the target machine starts powered on at its login prompt (default) or off.
    pub fn powered_on(mut self, on: bool) -> Self {
        self.powered = on;
        self
    }

    /// Plays the vendor's update server (`https://cdn.sipeed.com/nanokvm`) with an
    /// `http://` base URL: `GET /api/application/version` and the online update then
    /// fetch `<url>/latest.json` (`<url>/preview/latest.json` with preview updates on)
    /// and the package from there. Without it the vendor's server is unreachable, as
    /// for a device without internet access (the default).
    pub fn update_server(mut self, url: impl Into<String>) -> Self {
        self.update_server = Some(url.into());
        self
    }

    /// The address to listen on (default `127.0.0.1:0`, a free port).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    fn config(&self) -> Result<Config, Error> {
        if self.accounts.is_empty() {
            return Err(Error::Config("at least one account is required".to_owned()));
        }
        if self.width == 0 || self.height == 0 || self.width > 7680 || self.height > 4320 {
            return Err(Error::Config(format!(
                "screen resolution {}x{} is out of range",
                self.width, self.height
            )));
        }
        let (firmware, hardware) = match (self.firmware, self.hardware) {
            (None, None) => (FirmwareVersion::default(), Hardware::default()),
            (None, Some(h)) if h.is_pro() => (FirmwareVersion::Pro1_2_13, h),
            (None, Some(h)) => (FirmwareVersion::default(), h),
            (Some(f), None) if f.is_pro() => (f, Hardware::Pro),
            (Some(f), None) => (f, Hardware::default()),
            (Some(f), Some(h)) if f.is_pro() == h.is_pro() => (f, h),
            (Some(f), Some(h)) => {
                return Err(Error::Config(format!(
                    "firmware {f} does not run on {} hardware",
                    h.as_str()
                )));
            }
        };
        let accounts = if firmware.is_head() {
            self.accounts.clone()
        } else {
            self.accounts[..1].to_vec()
        };
        Ok(Config {
            firmware,
            accounts,
            authentication: self.authentication,
            lockout: self.lockout,
            machine: self.machine.clone(),
            width: self.width,
            height: self.height,
            hardware,
            hostname: "nanokvm-sim".to_owned(),
            update_server: self.update_server.clone(),
        })
    }

    #[cfg(test)]
    pub(crate) fn shared_for_tests(self) -> Shared {
        let config = self.config().unwrap_or_else(|e| panic!("{e}"));
        let dir = self.data_dir.clone().unwrap_or_default();
        Shared::new(config, self.time, dir, self.powered)
    }

    /// Binds the listener and starts serving.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for an inconsistent configuration, [`Error::DataDir`] when the
    /// data directory cannot be created, [`Error::Bind`] when the address is taken.
    pub async fn start(self) -> Result<Simulator, Error> {
        let config = self.config()?;
        let (data_dir, temp) = match &self.data_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir).map_err(Error::DataDir)?;
                (dir.clone(), None)
            }
            None => {
                let temp = tempfile::Builder::new()
                    .prefix("nanokvm-sim-")
                    .tempdir()
                    .map_err(Error::DataDir)?;
                (temp.path().to_path_buf(), Some(temp))
            }
        };
        let listener = tokio::net::TcpListener::bind(self.listen)
            .await
            .map_err(|source| Error::Bind {
                addr: self.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| Error::Bind {
            addr: self.listen,
            source,
        })?;
        let shared = Arc::new(Shared::new(config, self.time, data_dir, self.powered));
        let driver = tokio::spawn(crate::state::drive_machine(Arc::downgrade(&shared)));
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move {
                let _ = stop_rx.await;
            })
            .await
        });
        Ok(Simulator {
            shared,
            driver: driver.abort_handle(),
            addr,
            stop: Some(stop_tx),
            task: Some(task),
            _temp: temp,
        })
    }
}

async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> axum::response::Response {
    crate::http::serve(shared, req).await
}

/// A running simulated NanoKVM.
///
/// Dropping it stops the server; [`Simulator::shutdown`] does so and waits.
#[derive(Debug)]
pub struct Simulator {
    shared: Arc<Shared>,
    /// The task that fires the target machine's timers.
    driver: tokio::task::AbortHandle,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    _temp: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("firmware", &self.config.firmware)
            .finish_non_exhaustive()
    }
}

impl Simulator {
    /// A builder with the defaults: firmware 2.5.1, `admin`/`admin`, US layout, real
    /// delays, 1920x1080, a temporary data directory, `127.0.0.1:0`.
    pub fn builder() -> SimulatorBuilder {
        SimulatorBuilder::default()
    }

    /// The address the simulator listens on.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL, e.g. `http://127.0.0.1:40123`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The firmware version played.
    #[must_use]
    pub fn firmware(&self) -> FirmwareVersion {
        self.shared.config.firmware
    }

    /// The board played.
    #[must_use]
    pub fn hardware(&self) -> Hardware {
        self.shared.config.hardware
    }

    /// The time scale in use.
    #[must_use]
    pub fn time_scale(&self) -> TimeScale {
        self.shared.time
    }

    /// The directory playing the device's `/data`.
    #[must_use]
    pub fn data_dir(&self) -> &Path {
        &self.shared.data_dir
    }

    /// A snapshot of the target machine.
    #[must_use]
    pub fn machine(&self) -> MachineState {
        self.shared.machine.borrow().clone()
    }

    /// A receiver that sees every change of the target machine.
    #[must_use]
    pub fn watch_machine(&self) -> watch::Receiver<MachineState> {
        self.shared.machine.subscribe()
    }

    /// Waits until the target machine satisfies `condition`, and returns that state.
    pub async fn wait_for(&self, condition: impl FnMut(&MachineState) -> bool) -> MachineState {
        let mut rx = self.shared.machine.subscribe();
        // The sender lives as long as `self`, so waiting cannot fail.
        match rx.wait_for(condition).await {
            Ok(state) => state.clone(),
            Err(_) => self.machine(),
        }
    }

    /// The text on the target's screen.
    #[must_use]
    pub fn screen_text(&self) -> String {
        self.shared.machine.borrow().screen_text()
    }

    /// A JPEG of the target's screen as it is now, at the quality and size the screen
    /// settings imply: the console text in the bitmap font, the cursor and the mouse pointer; a
    /// black picture while the machine is off. The picture is rendered and encoded only
    /// if the screen changed since the last frame (streamed or not), so this is cheap to
    /// call repeatedly; after a change it takes as long as one encode (milliseconds at
    /// small resolutions, tens of milliseconds at 1080p).
    #[must_use]
    pub fn screenshot(&self) -> Screenshot {
        let (quality, resolution) = {
            let s = lock(&self.shared.settings);
            (jpeg_quality(s.quality), s.resolution)
        };
        let size = self.shared.screen.output_size(resolution);
        self.shared
            .screen
            .frame(&self.shared.machine, quality, size)
    }

    /// The MJPEG streamer's counters: clients, ticks, frames published, encodes.
    #[must_use]
    pub fn video_stats(&self) -> VideoStats {
        let mut stats = self.shared.video.stats();
        stats.encodes = self.shared.screen.encodes();
        stats
    }

    /// Waits until the MJPEG streamer's counters satisfy `condition`, and returns them.
    /// The counters change on every tick while a client is connected, and when clients
    /// come and go.
    pub async fn wait_for_video(
        &self,
        mut condition: impl FnMut(&VideoStats) -> bool,
    ) -> VideoStats {
        let mut rx = self.shared.video.watch_stats();
        // The sender lives as long as `self`, so waiting cannot fail.
        match rx.wait_for(|s| condition(s)).await {
            Ok(stats) => *stats,
            Err(_) => self.video_stats(),
        }
    }

    /// The target's power state.
    #[must_use]
    pub fn power(&self) -> PowerState {
        self.shared.machine.borrow().power()
    }

    /// The keyboard LEDs as the target host reported them.
    #[must_use]
    pub fn leds(&self) -> Leds {
        self.shared.machine.borrow().leds()
    }

    /// Whether the HDMI capture currently sees a picture.
    #[must_use]
    pub fn hdmi_signal(&self) -> bool {
        self.shared.hdmi_signal()
    }

    /// Whether the HDMI capture is switched on: HDMI enabled and not switched off by
    /// the idle timer (`POST /api/vm/hdmi/timeout`) for want of viewers.
    #[must_use]
    pub fn capture_running(&self) -> bool {
        self.shared.capture_running()
    }

    /// Waits until [`Simulator::capture_running`] is `running`.
    pub async fn wait_for_capture(&self, running: bool) {
        let mut rx = self.shared.hdmi.subscribe();
        // The sender lives as long as `self`, so waiting cannot fail.
        let _ = rx.wait_for(|d| d.running() == running).await;
    }

    /// The mounted image as the API names it (`/data/...`), if any.
    #[must_use]
    pub fn mounted_image(&self) -> Option<String> {
        let s = lock(&self.shared.storage);
        (!s.file.is_empty()).then(|| s.file.clone())
    }

    /// Whether the LUN is flagged as a CD-ROM.
    #[must_use]
    pub fn cdrom(&self) -> bool {
        lock(&self.shared.storage).cdrom
    }

    /// Every HID report written so far, oldest first.
    #[must_use]
    pub fn hid_reports(&self) -> Vec<HidReport> {
        lock(&self.shared.records).hid.clone()
    }

    /// Every HTTP request answered so far, oldest first.
    #[must_use]
    pub fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.shared.records).requests.clone()
    }

    /// The transfer lane as `GET /api/download/image/status` would report it now.
    #[must_use]
    pub fn download_state(&self) -> DownloadState {
        self.shared
            .transfer
            .borrow()
            .view(self.shared.config.firmware)
    }

    /// Waits until the transfer lane, as the status route reports it, satisfies
    /// `condition`, and returns that state. It changes when a download or upload starts,
    /// reports progress, or ends.
    pub async fn wait_for_download(
        &self,
        mut condition: impl FnMut(&DownloadState) -> bool,
    ) -> DownloadState {
        let fw = self.shared.config.firmware;
        let mut rx = self.shared.transfer.subscribe();
        // The sender lives as long as `self`, so waiting cannot fail.
        match rx.wait_for(|lane| condition(&lane.view(fw))).await {
            Ok(lane) => lane.view(fw),
            Err(_) => self.download_state(),
        }
    }

    /// Every Wake-on-LAN packet sent so far.
    #[must_use]
    pub fn wol_packets(&self) -> Vec<WolPacket> {
        lock(&self.shared.records).wol.clone()
    }

    /// Fault: adds `latency` before every HTTP answer (not scaled).
    pub fn set_latency(&self, latency: Duration) {
        lock(&self.shared.faults).latency = latency;
    }

    /// Fault: the next `n` HTTP requests get 500 with an empty body.
    pub fn fail_next_requests(&self, n: u32) {
        lock(&self.shared.faults).fail_next = n;
    }

    /// Fault: every open WebSocket is dropped without a close frame.
    pub fn drop_websockets(&self) {
        self.shared.ws_kill.send_modify(|v| *v += 1);
    }

    /// Fault: every session issued so far expires now (the JWT clock jumps past `exp`).
    pub fn expire_sessions(&self) {
        lock(&self.shared.auth).clock_offset += 2_678_400 + 1;
        self.shared.sessions_changed();
    }

    /// Fault: revokes every session of `username` as a logout would (on firmware
    /// before 2.5.1, every session of every user).
    pub fn revoke_sessions(&self, username: &str) {
        {
            let mut auth = lock(&self.shared.auth);
            if self.shared.config.firmware.is_head() {
                if let Some(u) = auth.users.iter_mut().find(|u| u.username == username) {
                    u.token_version += 1;
                }
            } else {
                auth.secret = crate::crypto::random_secret();
            }
        }
        self.shared.sessions_changed();
    }

    /// Fault: the NanoKVM reboots: all sessions become invalid and WebSockets drop.
    pub fn reboot_device(&self) {
        self.shared.reboot_device();
    }

    /// How many times the NanoKVM itself has restarted: [`Simulator::reboot_device`],
    /// `POST /api/vm/system/reboot`, a HID mode change, or an online update.
    #[must_use]
    pub fn reboots(&self) -> u64 {
        *self.shared.reboots.borrow()
    }

    /// Waits until the NanoKVM has restarted at least `count` times in all.
    pub async fn wait_for_reboots(&self, count: u64) {
        let mut rx = self.shared.reboots.subscribe();
        // The sender lives as long as `self`, so waiting cannot fail.
        let _ = rx.wait_for(|n| *n >= count).await;
    }

    /// Fault: forces "no HDMI signal" whatever the target does.
    pub fn set_no_signal(&self, no_signal: bool) {
        lock(&self.shared.faults).no_signal = no_signal;
    }

    /// Fault: paste and HID reset answer "HID control is busy".
    pub fn set_hid_busy(&self, busy: bool) {
        lock(&self.shared.faults).hid_busy = busy;
    }

    /// Stops serving and waits for the server task (at most a second: streams that never
    /// end are cut).
    ///
    /// # Errors
    ///
    /// [`Error::Serve`] when the server had stopped with an I/O error.
    pub async fn shutdown(mut self) -> Result<(), Error> {
        self.stop_now();
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            match tokio::time::timeout(Duration::from_secs(1), task).await {
                Ok(Ok(Err(e))) => return Err(Error::Serve(e)),
                Ok(_) => {}
                Err(_) => abort.abort(),
            }
        }
        Ok(())
    }

    fn stop_now(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.shared.reset_transfers();
        self.shared.stop_idle_timer();
        self.shared.ws_kill.send_modify(|v| *v += 1);
        self.shared.video.cut();
        self.driver.abort();
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.stop_now();
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
