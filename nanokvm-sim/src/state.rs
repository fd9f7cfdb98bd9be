//! The simulated device's shared state, and the operations that change it.
//!
//! Every lock here is a `std::sync::Mutex` held for a few statements and never across an
//! `.await`, so no handler can stall another. The target machine lives in a
//! `watch` channel so that changes are both inspectable and awaitable.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nanokvm_hid::{AbsoluteReport, KeyboardReport, RelativeReport};
use tokio::sync::watch;

use crate::config::{Config, Role};
use crate::crypto;
use crate::faults::Faults;
use crate::hdmi::{Demand, H264Modes, Statuses};
use crate::http::{Folder, UpdateServer};
use crate::machine::MachineState;
use crate::record::{HidReport, Records};
use crate::screen::Screen;
use crate::time::TimeScale;
use crate::transfer::Lane;
use crate::video::Video;

/// How long HID is unavailable while the USB gadget re-enumerates (firmware time).
pub(crate) const USB_REBIND: Duration = Duration::from_millis(300);

/// Fires the target machine's timers: each timed step (a self test, a boot, an
/// installation step) runs after its firmware delay, scaled. A deadline is fixed when
/// its timer first appears, so key presses and other changes meanwhile do not postpone
/// it. The task ends when the simulator's shared state is gone.
pub(crate) async fn drive_machine(shared: std::sync::Weak<Shared>) {
    let (mut rx, time) = match shared.upgrade() {
        Some(s) => (s.machine.subscribe(), s.time),
        None => return,
    };
    let mut armed: Option<(u64, tokio::time::Instant)> = None;
    loop {
        let timer = rx.borrow_and_update().timer();
        let Some((id, delay)) = timer else {
            armed = None;
            if rx.changed().await.is_err() {
                return;
            }
            continue;
        };
        let deadline = match armed {
            Some((armed_id, deadline)) if armed_id == id => deadline,
            _ => tokio::time::Instant::now() + time.scale(delay),
        };
        armed = Some((id, deadline));
        tokio::select! {
            () = tokio::time::sleep_until(deadline) => {
                let Some(shared) = shared.upgrade() else { return };
                shared.machine.send_if_modified(|m| m.elapse(id));
            }
            changed = rx.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
    }
}

/// Locks a mutex, recovering the data if a panicking thread poisoned it: the simulator
/// must keep answering even after a bug in one handler.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One account in the simulated account store.
#[derive(Clone)]
pub(crate) struct User {
    pub username: String,
    pub password: Vec<u8>,
    pub role: Role,
    pub enabled: bool,
    pub token_version: u64,
    pub system_account: bool,
}

/// Brute-force bookkeeping for one client address.
#[derive(Clone, Copy)]
pub(crate) struct Failures {
    pub count: u32,
    pub last: Instant,
    pub locked_until: Option<Instant>,
}

/// The account store, JWT secret and lockout table.
pub(crate) struct Auth {
    pub users: Vec<User>,
    pub secret: Vec<u8>,
    /// Seconds added to the wall clock for JWT purposes (used to expire sessions).
    pub clock_offset: i64,
    pub failures: HashMap<IpAddr, Failures>,
    pub password_updated: bool,
}

impl Auth {
    pub fn now(&self) -> i64 {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        secs.saturating_add(self.clock_offset)
    }

    pub fn user(&self, name: &str) -> Option<&User> {
        self.users.iter().find(|u| u.username == name)
    }
}

/// Device settings changed through the API.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub hostname: String,
    pub web_title: String,
    pub hdmi_enabled: bool,
    pub hdmi_idle_timeout: u32,
    pub jiggler_enabled: bool,
    pub jiggler_mode: String,
    pub fps: u32,
    pub quality: u32,
    pub resolution: u32,
    pub stream_type: u32,
    pub bitrate: u32,
    pub gop: u32,
    pub frame_detect: bool,
    pub hid_mode: String,
    pub shortcuts: Vec<(String, Vec<(String, String)>)>,
    pub leader_key: String,
    pub wol_macs: Vec<String>,
    pub ssh: bool,
    pub mdns: bool,
    pub virtual_network: bool,
    pub virtual_disk: bool,
    /// The application version file (`/kvmapp/version`); an online update changes it.
    pub app_version: String,
    pub preview_updates: bool,
    pub update_server: UpdateServer,
    /// `/swapfile`'s size in MB (0: none).
    pub swap_mb: i64,
    /// The Go memory limit, when set.
    pub memory_limit: Option<i64>,
    pub oled_sleep: i64,
    pub tls: bool,
    /// `/etc/kvm/autostart` and `/etc/kvm/scripts`, in memory.
    pub autostart: Folder,
    pub scripts: Folder,
    pub dns_manual: bool,
    pub dns_servers: Vec<String>,
    /// The Pro's encoder rate control (`cbr` or `vbr`).
    pub rate_control: String,
    /// The Pro's HDMI loop-out.
    pub hdmi_passthrough: bool,
}

/// The mass-storage LUN.
#[derive(Clone, Debug, Default)]
pub(crate) struct Storage {
    /// The image path as the API names it (`/data/...`); empty when nothing is mounted.
    pub file: String,
    pub cdrom: bool,
    pub ro: bool,
}

/// Everything one simulator instance shares between its connections.
pub(crate) struct Shared {
    pub config: Config,
    pub time: TimeScale,
    pub data_dir: PathBuf,
    pub machine: watch::Sender<MachineState>,
    pub auth: Mutex<Auth>,
    pub settings: Mutex<Settings>,
    pub storage: Mutex<Storage>,
    /// The transfer lane shared by URL downloads and uploads.
    pub transfer: watch::Sender<Lane>,
    pub records: Mutex<Records>,
    pub faults: Mutex<Faults>,
    /// Bumped whenever sessions may have become invalid; live streams re-check theirs.
    pub sessions: watch::Sender<u64>,
    /// How many times the NanoKVM itself restarted.
    pub reboots: watch::Sender<u64>,
    /// Bumped to drop every WebSocket abruptly (fault injection).
    pub ws_kill: watch::Sender<u64>,
    /// HID writes fail until this instant (USB re-enumeration).
    pub hid_down_until: Mutex<Option<Instant>>,
    /// One online update at a time.
    pub update_lane: tokio::sync::Mutex<()>,
    /// Serialises paste and HID reset, as the firmware's manual-control reservation does.
    pub hid_lane: tokio::sync::Mutex<()>,
    /// The target's framebuffer and latest JPEG.
    pub screen: Screen,
    /// The MJPEG streamer.
    pub video: Video,
    /// What keeps the HDMI capture running.
    pub hdmi: watch::Sender<Demand>,
    /// The pending idle switch-off of the capture, if any.
    pub idle_timer: Mutex<Option<tokio::task::AbortHandle>>,
    /// The capture status per mode, pushed over `/api/ws`.
    pub capture: Statuses,
    /// The H.264 viewers per transport.
    pub h264: Mutex<H264Modes>,
}

impl Shared {
    pub(crate) fn new(config: Config, time: TimeScale, data_dir: PathBuf, powered: bool) -> Self {
        let users = config
            .accounts
            .iter()
            .enumerate()
            .map(|(i, a)| User {
                username: a.username.clone(),
                password: a.password.clone().into_bytes(),
                role: a.role,
                enabled: true,
                token_version: 1,
                system_account: i == 0,
            })
            .collect();
        let password_updated = !config
            .accounts
            .iter()
            .any(|a| a.username == "admin" && a.password == "admin");
        let machine = MachineState::new(&config.machine, config.width, config.height, powered);
        let screen = Screen::new(config.width, config.height);
        let settings = Settings {
            hostname: config.hostname.clone(),
            web_title: String::new(),
            hdmi_enabled: true,
            hdmi_idle_timeout: 0,
            jiggler_enabled: false,
            jiggler_mode: "relative".to_owned(),
            fps: 30,
            quality: 80,
            resolution: 0,
            stream_type: 0,
            bitrate: 3000,
            gop: 30,
            frame_detect: false,
            hid_mode: "normal".to_owned(),
            shortcuts: Vec::new(),
            leader_key: String::new(),
            wol_macs: Vec::new(),
            ssh: true,
            mdns: true,
            virtual_network: false,
            virtual_disk: true,
            app_version: config.firmware.as_str().to_owned(),
            preview_updates: false,
            update_server: UpdateServer::default(),
            swap_mb: 0,
            memory_limit: None,
            oled_sleep: 0,
            tls: false,
            autostart: Folder::default(),
            scripts: Folder::default(),
            dns_manual: false,
            dns_servers: Vec::new(),
            rate_control: "cbr".to_owned(),
            hdmi_passthrough: true,
        };
        Self {
            config,
            time,
            data_dir,
            machine: watch::Sender::new(machine),
            auth: Mutex::new(Auth {
                users,
                secret: crypto::random_secret(),
                clock_offset: 0,
                failures: HashMap::new(),
                password_updated,
            }),
            settings: Mutex::new(settings),
            storage: Mutex::new(Storage::default()),
            transfer: watch::Sender::new(Lane::default()),
            records: Mutex::new(Records::default()),
            faults: Mutex::new(Faults::default()),
            sessions: watch::Sender::new(0),
            reboots: watch::Sender::new(0),
            ws_kill: watch::Sender::new(0),
            hid_down_until: Mutex::new(None),
            hid_lane: tokio::sync::Mutex::new(()),
            update_lane: tokio::sync::Mutex::new(()),
            screen,
            video: Video::new(),
            hdmi: watch::Sender::new(Demand::default()),
            idle_timer: Mutex::new(None),
            capture: Statuses::new(),
            h264: Mutex::new(H264Modes::new()),
        }
    }

    /// Whether the HDMI capture sees a picture.
    pub(crate) fn hdmi_signal(&self) -> bool {
        lock(&self.settings).hdmi_enabled
            && !lock(&self.faults).no_signal
            && self.machine.borrow().power().is_powered()
    }

    /// Whether the HID gadgets accept writes right now.
    pub(crate) fn hid_available(&self) -> bool {
        let mut down = lock(&self.hid_down_until);
        match *down {
            Some(until) if Instant::now() < until => false,
            Some(_) => {
                *down = None;
                true
            }
            None => true,
        }
    }

    /// Closes the HID devices for a USB re-enumeration.
    pub(crate) fn usb_rebind(&self) {
        *lock(&self.hid_down_until) = Some(Instant::now() + self.time.scale(USB_REBIND));
    }

    /// Writes a keyboard report; `false` when the gadget is unavailable.
    pub(crate) fn write_keyboard(&self, report: KeyboardReport) -> bool {
        if !self.hid_available() {
            return false;
        }
        lock(&self.records).hid.push(HidReport::Keyboard(report));
        self.machine.send_modify(|m| m.keyboard(&report));
        true
    }

    /// Writes a relative mouse report.
    pub(crate) fn write_relative(&self, report: RelativeReport) -> bool {
        if !self.hid_available() {
            return false;
        }
        lock(&self.records).hid.push(HidReport::Relative(report));
        self.machine.send_modify(|m| m.relative(&report));
        true
    }

    /// Writes an absolute pointer report.
    pub(crate) fn write_absolute(&self, report: AbsoluteReport) -> bool {
        if !self.hid_available() {
            return false;
        }
        lock(&self.records).hid.push(HidReport::Absolute(report));
        self.machine.send_modify(|m| m.absolute(&report));
        true
    }

    /// The image in the virtual CD-ROM drive, if an image is mounted as a CD-ROM and
    /// the gadget has its mass-storage function.
    fn cdrom_image(&self) -> Option<String> {
        if lock(&self.settings).hid_mode == "hid-only" {
            return None;
        }
        let storage = lock(&self.storage);
        (storage.cdrom && !storage.file.is_empty()).then(|| storage.file.clone())
    }

    /// Tells the target what its CD-ROM drive now holds, after a mount or an eject.
    pub(crate) fn media_changed(&self) {
        let medium = self.cdrom_image();
        self.machine.send_modify(|m| m.set_medium(medium));
    }

    /// The power button was held for `held` (firmware time).
    pub(crate) fn power_button(&self, held: Duration) {
        self.machine.send_modify(|m| m.power_button(held));
    }

    /// The reset button was pressed: a powered machine reboots.
    pub(crate) fn reset_button(&self) {
        self.machine.send_modify(MachineState::reset_button);
    }

    /// Invalidates sessions held by live streams so they re-check.
    pub(crate) fn sessions_changed(&self) {
        self.sessions.send_modify(|v| *v += 1);
    }

    /// The NanoKVM itself reboots: a new JWT secret (all sessions die), every WebSocket
    /// drops, every MJPEG stream ends and a running transfer is lost. Settings and the
    /// target machine are unaffected.
    pub(crate) fn reboot_device(&self) {
        lock(&self.auth).secret = crypto::random_secret();
        self.sessions_changed();
        self.ws_kill.send_modify(|v| *v += 1);
        self.video.cut();
        self.reset_transfers();
        *lock(&self.h264) = H264Modes::new();
        self.reboots.send_modify(|n| *n += 1);
    }
}
