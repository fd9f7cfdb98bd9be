//! The virtual target machine behind the KVM: a small, deterministic PC that only
//! changes through what reaches it as HID reports, GPIO presses and mounted media.
//!
//! It powers on into a power-on self test and a firmware splash ("Press DEL or F2 to
//! enter setup"), then tries its boot devices in the order its firmware settings keep:
//! the disk boots an installed Linux to a login prompt; a CD-ROM image mounted through
//! the KVM boots an installer; the network (PXE) always times out. The firmware setup
//! screen ([`setup`]) edits the boot order. After logging in, a shell ([`shell`]) runs
//! a few commands, and `startx` opens a graphical screen ([`desktop`]) whose dialog
//! buttons react to absolute clicks. A short power press shuts an operating system down
//! (firmware screens turn off at once), a long one forces the power off, reset reboots.
//!
//! The machine only ever changes through [`MachineState`] values published on a
//! `tokio::sync::watch` channel, so tests can await a condition ("the screen shows
//! `login:`", "the power is off") instead of sleeping. The machine never reads a clock:
//! a state that ends by itself (a POST, a boot, an installation step) sets a timer in
//! firmware time, and the simulator's driver task fires it after that delay, scaled by
//! `TimeScale`.
//!
//! # Text prompts and their input line
//!
//! The login prompt, the password prompt (which echoes nothing) and the shell prompt
//! all read a line edited the way GNU readline does with its default (emacs) key
//! bindings on a Linux text console, so the simulator can tell what the target would
//! have read. The input has a cursor, a character index into it, which starts at 0 on
//! every new line.
//!
//! - A typed character (anything the layout decodes to text other than Enter's newline,
//!   Tab included) is inserted at the cursor, and the cursor moves past it.
//! - Enter, keypad Enter, Ctrl+M and Ctrl+J submit the line: the prompt acts on it and
//!   shows its next prompt, with an empty input, before the next key is read.
//! - Ctrl+C abandons the line: `^C` is appended to what the line shows (nothing at the
//!   password prompt, which goes back to the login prompt), then a new prompt starts.
//! - Backspace and Ctrl+H delete the character before the cursor; the prompt is never
//!   erased. Delete and Ctrl+D delete the character under the cursor, and do nothing at
//!   the end of the input (a real shell would log out on Ctrl+D at an empty prompt; this
//!   one ignores it).
//! - Left and Ctrl+B move the cursor one character back, Right and Ctrl+F one character
//!   forward; Home and Ctrl+A move it to the start of the input, End and Ctrl+E to its end.
//! - Ctrl+U (`unix-line-discard`) deletes from the start of the input to the cursor and
//!   keeps the text after it. Ctrl+K (`kill-line`) deletes from the cursor to the end.
//!   Ctrl+W (`unix-word-rubout`) deletes the spaces and tabs just before the cursor, then
//!   the run of other characters before those.
//!
//! A Ctrl+letter shortcut is one key pressed with Ctrl (left or right), with or without
//! Shift, since a Linux console sends the same control character for both. With Alt,
//! AltGr or Meta also held it is not a control character and changes nothing. The letter
//! is the one the key types on its own in the target's layout, lower-cased, so Ctrl+A on a
//! French AZERTY target is the key labelled A, at the position of QWERTY's Q. The arrow,
//! Home, End and Delete keys only act when no modifier is held. Every other key (Up, Down,
//! Escape, function keys, other shortcuts) leaves the line as it is; readline's history,
//! kill ring (Ctrl+Y), undo, transposition and Meta bindings are not simulated. The
//! password prompt edits its hidden line the same way (a simplification: a real terminal
//! in canonical mode knows fewer keys there).
//!
//! # The pointer
//!
//! The firmware setup screen only follows relative reports, as real firmware drives a
//! USB mouse in boot protocol; the desktop only follows absolute ones, as a tablet
//! driver does. The text console follows both.

mod desktop;
mod line;
mod setup;
mod shell;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use nanokvm_hid::{
    AbsoluteReport, Decoded, Decoder, KeyboardReport, Keycode, Layout, MouseButtons, RelativeReport,
};

use crate::config::{BootDevice, MachineConfig};
use crate::screen;

use desktop::Desktop;
pub(crate) use desktop::Panel;
use line::{Applied, Edit, Line};
use setup::Setup;

/// The power-on self test (firmware time, scaled like every delay here).
pub(crate) const POST_TIME: Duration = Duration::from_secs(1);
/// How long the splash with its setup hint stays.
pub(crate) const SPLASH_TIME: Duration = Duration::from_secs(4);
/// From the boot loader to the login prompt.
pub(crate) const OS_BOOT_TIME: Duration = Duration::from_secs(3);
/// From the CD-ROM's boot loader to the installer's menu.
pub(crate) const INSTALLER_BOOT_TIME: Duration = Duration::from_secs(2);
/// How long a network boot waits for a boot server that never answers.
pub(crate) const PXE_TIMEOUT: Duration = Duration::from_secs(3);
/// How long an operating system takes to shut down or to reboot.
pub(crate) const SHUTDOWN_TIME: Duration = Duration::from_secs(3);
/// Presses at least this long force the machine off, as ATX power supplies do.
pub(crate) const LONG_PRESS: Duration = Duration::from_secs(4);
/// Progress steps of an installation.
const INSTALL_STEPS: u32 = 20;
/// Console lines kept; older ones scroll away.
const MAX_LINES: usize = 500;
/// The firmware's name on its screens.
const FIRMWARE: &str = "nanokvm-sim firmware 1.0";
/// The preinstalled system's name.
const PREINSTALLED: &str = "nanokvm-sim Linux 1.0";

/// Usages of the keys the firmware screens and menus read.
mod usage {
    pub const ENTER: u8 = 0x28;
    pub const ESCAPE: u8 = 0x29;
    pub const F2: u8 = 0x3B;
    pub const F5: u8 = 0x3E;
    pub const F6: u8 = 0x3F;
    pub const F10: u8 = 0x43;
    pub const DELETE: u8 = 0x4C;
    pub const RIGHT: u8 = 0x4F;
    pub const LEFT: u8 = 0x50;
    pub const DOWN: u8 = 0x51;
    pub const UP: u8 = 0x52;
    pub const NUM_LOCK: u8 = 0x53;
    pub const KEYPAD_MINUS: u8 = 0x56;
    pub const KEYPAD_PLUS: u8 = 0x57;
    pub const KEYPAD_ENTER: u8 = 0x58;
    pub const SCROLL_LOCK: u8 = 0x47;
}

/// The target machine's power state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PowerState {
    /// Powered off: no HDMI signal, power LED off.
    Off,
    /// Powered on, in its self test, splash or boot.
    Booting,
    /// Running: firmware setup, an installer, a login prompt, a shell or a desktop.
    On,
    /// Shutting down after a short power press or a `poweroff`; turns off after a delay.
    ShuttingDown,
}

impl PowerState {
    /// Whether the power LED is lit (any state but [`PowerState::Off`]).
    #[must_use]
    pub fn is_powered(self) -> bool {
        self != Self::Off
    }
}

/// What the target is showing and doing, finer than its [`PowerState`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Stage {
    /// Powered off.
    Off,
    /// The power-on self test.
    Post,
    /// The firmware splash: "Press DEL or F2 to enter setup".
    Splash,
    /// The firmware setup screen.
    Setup,
    /// Trying the boot devices, or loading an operating system or the installer.
    Booting,
    /// No device could boot; any key restarts.
    NoBootDevice,
    /// The installer's boot menu (booted from a CD-ROM image).
    InstallerMenu,
    /// An installation in progress.
    Installing,
    /// The installation finished (or failed); Enter reboots.
    InstallDone,
    /// The login or password prompt.
    Login,
    /// Logged in at a shell prompt.
    Shell,
    /// The graphical desktop.
    Desktop,
    /// Shutting down or rebooting.
    ShuttingDown,
}

/// The keyboard LEDs as the target host last reported them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Leds {
    /// Num Lock.
    pub num_lock: bool,
    /// Caps Lock.
    pub caps_lock: bool,
    /// Scroll Lock.
    pub scroll_lock: bool,
    /// Whether the host has sent any LED output report yet.
    pub known: bool,
    /// When the host last sent one.
    pub updated_at: Option<SystemTime>,
}

impl Leds {
    /// Whether two states differ in what the firmware pushes on (the lock bits and
    /// `known`, not the timestamp).
    #[must_use]
    pub(crate) fn same_flags(&self, other: &Self) -> bool {
        self.num_lock == other.num_lock
            && self.caps_lock == other.caps_lock
            && self.scroll_lock == other.scroll_lock
            && self.known == other.known
    }
}

/// A mouse button press seen by the target, with where the pointer was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Click {
    /// The buttons that went down in this report.
    pub buttons: MouseButtons,
    /// Pointer column in pixels.
    pub x: u32,
    /// Pointer row in pixels.
    pub y: u32,
}

/// Where the machine is, with the state each place needs.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Mode {
    Off,
    /// `setup`: DEL or F2 was pressed (or held at power-on).
    Post {
        setup: bool,
    },
    Splash,
    Setup(Setup),
    /// Waiting for a boot server; `next` is the boot-order index to try after it.
    Pxe {
        next: usize,
    },
    LoadingOs,
    LoadingInstaller,
    NoBootDevice,
    InstallerMenu {
        selected: usize,
    },
    Installing {
        step: u32,
    },
    InstallDone,
    /// `user` is the name typed, once the password is asked for.
    Login {
        user: Option<String>,
    },
    Shell,
    Desktop(Desktop),
    ShuttingDown {
        reboot: bool,
    },
}

/// The prompt on the last console line: its length in chars and whether input shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Prompt {
    len: usize,
    echo: bool,
}

/// A snapshot of the virtual target machine.
#[derive(Clone, Debug)]
pub struct MachineState {
    mode: Mode,
    config: Arc<MachineConfig>,
    lines: Vec<String>,
    prompt: Option<Prompt>,
    line: Line,
    leds: Leds,
    pointer: (u32, u32),
    buttons: MouseButtons,
    clicks: Vec<Click>,
    version: u64,
    /// The pending timed step: its id and its delay in firmware time.
    timer: Option<(u64, Duration)>,
    timer_ids: u64,
    decoder: Decoder,
    previous_keys: KeyboardReport,
    width: u32,
    height: u32,
    /// The text grid of the screen: columns and rows.
    grid: (usize, usize),
    boot_order: [BootDevice; 3],
    /// The image in the virtual CD-ROM drive, as the API names it.
    medium: Option<String>,
    boot_media: Option<String>,
    /// Whether the disk holds a system.
    bootable_disk: bool,
    /// The image the disk's system was installed from; `None` for the preinstalled one.
    installed_from: Option<String>,
}

impl MachineState {
    pub(crate) fn new(config: &MachineConfig, width: u32, height: u32, powered: bool) -> Self {
        let layout = screen::Layout::new(width, height);
        let mut state = Self {
            mode: Mode::Off,
            config: Arc::new(config.clone()),
            lines: Vec::new(),
            prompt: None,
            line: Line::default(),
            leds: Leds::default(),
            pointer: (width / 2, height / 2),
            buttons: MouseButtons::default(),
            clicks: Vec::new(),
            version: 0,
            timer: None,
            timer_ids: 0,
            decoder: Decoder::new(config.layout),
            previous_keys: KeyboardReport::RELEASE,
            width,
            height,
            grid: (layout.cols, layout.rows),
            boot_order: config.boot_order,
            medium: None,
            boot_media: None,
            bootable_disk: !config.blank_disk,
            installed_from: None,
        };
        if powered && config.blank_disk {
            // Nothing to show yet: the machine is just switched on.
            state.power_on();
        } else if powered {
            // Already running when the simulator starts: at the login prompt, or logged
            // in when so configured.
            state.os_started();
            if config.logged_in {
                // As if the user had logged in at the prompt.
                state.prompt = None;
                if let Some(last) = state.lines.last_mut() {
                    last.push_str(&config.user);
                }
                state.print("Password: ");
                state.logged_in();
            }
        }
        state
    }

    /// The power state.
    #[must_use]
    pub fn power(&self) -> PowerState {
        match self.mode {
            Mode::Off => PowerState::Off,
            Mode::Post { .. }
            | Mode::Splash
            | Mode::Pxe { .. }
            | Mode::LoadingOs
            | Mode::LoadingInstaller => PowerState::Booting,
            Mode::ShuttingDown { .. } => PowerState::ShuttingDown,
            Mode::Setup(_)
            | Mode::NoBootDevice
            | Mode::InstallerMenu { .. }
            | Mode::Installing { .. }
            | Mode::InstallDone
            | Mode::Login { .. }
            | Mode::Shell
            | Mode::Desktop(_) => PowerState::On,
        }
    }

    /// What the machine is showing and doing.
    #[must_use]
    pub fn stage(&self) -> Stage {
        match self.mode {
            Mode::Off => Stage::Off,
            Mode::Post { .. } => Stage::Post,
            Mode::Splash => Stage::Splash,
            Mode::Setup(_) => Stage::Setup,
            Mode::Pxe { .. } | Mode::LoadingOs | Mode::LoadingInstaller => Stage::Booting,
            Mode::NoBootDevice => Stage::NoBootDevice,
            Mode::InstallerMenu { .. } => Stage::InstallerMenu,
            Mode::Installing { .. } => Stage::Installing,
            Mode::InstallDone => Stage::InstallDone,
            Mode::Login { .. } => Stage::Login,
            Mode::Shell => Stage::Shell,
            Mode::Desktop(_) => Stage::Desktop,
            Mode::ShuttingDown { .. } => Stage::ShuttingDown,
        }
    }

    /// The text on the screen, lines joined with `\n`; empty while powered off. On the
    /// graphical screens it is the text drawn there, padded as on the screen.
    #[must_use]
    pub fn screen_text(&self) -> String {
        self.lines.join("\n")
    }

    /// The screen's text lines.
    #[must_use]
    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    /// The keyboard LEDs as the host reported them.
    #[must_use]
    pub fn leds(&self) -> Leds {
        self.leds
    }

    /// The pointer position in pixels.
    #[must_use]
    pub fn pointer(&self) -> (u32, u32) {
        self.pointer
    }

    /// The mouse buttons currently held.
    #[must_use]
    pub fn buttons(&self) -> MouseButtons {
        self.buttons
    }

    /// The last keyboard report the target received: the keys held now.
    #[must_use]
    pub fn keys_held(&self) -> KeyboardReport {
        self.previous_keys
    }

    /// Every button press seen, oldest first.
    #[must_use]
    pub fn clicks(&self) -> &[Click] {
        &self.clicks
    }

    /// A counter bumped whenever anything visible on the screen changes.
    #[must_use]
    pub fn screen_version(&self) -> u64 {
        self.version
    }

    /// The input typed at the current prompt (login, password or shell), as the target
    /// would read it if Enter were pressed now; empty when no prompt is waiting.
    #[must_use]
    pub fn input_line(&self) -> String {
        if self.prompt.is_some() {
            self.line.text()
        } else {
            String::new()
        }
    }

    /// The input cursor: a char index into [`MachineState::input_line`], from 0 (before
    /// the first character) to its length (after the last); 0 when no prompt waits.
    #[must_use]
    pub fn cursor(&self) -> usize {
        if self.prompt.is_some() {
            self.line.cursor
        } else {
            0
        }
    }

    /// The text cursor as a char index into the last line (prompt included), while a
    /// prompt waits.
    pub(crate) fn cursor_column(&self) -> Option<usize> {
        self.prompt
            .map(|p| p.len + if p.echo { self.line.cursor } else { 0 })
    }

    /// What the machine booted from, if it booted from mounted media.
    #[must_use]
    pub fn boot_media(&self) -> Option<&str> {
        self.boot_media.as_deref()
    }

    /// The boot order the target's firmware settings keep.
    #[must_use]
    pub fn boot_order(&self) -> [BootDevice; 3] {
        self.boot_order
    }

    /// The image the disk's system was installed from, once an installation finished.
    #[must_use]
    pub fn installed_from(&self) -> Option<&str> {
        self.installed_from.as_deref()
    }

    /// Whether the target's disk is busy (self test, loading the system from it, or an
    /// installation writing to it), which lights its HDD LED.
    #[must_use]
    pub fn disk_active(&self) -> bool {
        matches!(
            self.mode,
            Mode::Post { .. } | Mode::LoadingOs | Mode::Installing { .. }
        )
    }

    /// Where a button of the desktop's dialog (`"OK"`, `"Cancel"`, `"Log out"`) is on
    /// the screen, as `(x, y, width, height)` in pixels; `None` when the desktop is not
    /// showing or has no such button.
    #[must_use]
    pub fn button_bounds(&self, label: &str) -> Option<(u32, u32, u32, u32)> {
        if !matches!(self.mode, Mode::Desktop(_)) {
            return None;
        }
        let (col, row, width) = Desktop::button_cells(self.grid.0, self.grid.1, label)?;
        let layout = screen::Layout::new(self.width, self.height);
        let (x, y) = layout.cell(col, row);
        let w = u32::try_from(width).unwrap_or(0) * layout.cell_w;
        Some((x, y, w, layout.cell_h))
    }

    /// The filled panels the screen draws under its text (the desktop's).
    pub(crate) fn panels(&self) -> Vec<Panel> {
        match self.mode {
            Mode::Desktop(_) => Desktop::panels(self.grid.0, self.grid.1),
            _ => Vec::new(),
        }
    }

    /// The pending timed step: an id for [`MachineState::elapse`] and its delay.
    pub(crate) fn timer(&self) -> Option<(u64, Duration)> {
        self.timer
    }

    fn touch(&mut self) {
        self.version += 1;
    }

    fn set_timer(&mut self, delay: Duration) {
        self.timer_ids += 1;
        self.timer = Some((self.timer_ids, delay));
    }

    /// Switches to `mode`; any pending timer is dropped.
    fn enter(&mut self, mode: Mode) {
        self.mode = mode;
        self.timer = None;
        self.prompt = None;
        self.line = Line::default();
        self.touch();
    }

    fn print(&mut self, text: impl Into<String>) {
        self.lines.push(text.into());
        if self.lines.len() > MAX_LINES {
            let excess = self.lines.len() - MAX_LINES;
            self.lines.drain(..excess);
        }
        self.touch();
    }

    /// Shows a prompt on a new line and waits for input.
    fn ask(&mut self, prompt: &str, echo: bool) {
        self.print(prompt);
        self.prompt = Some(Prompt {
            len: prompt.chars().count(),
            echo,
        });
        self.line = Line::default();
        self.touch();
    }

    /// Redraws the prompt line after its input changed.
    fn redraw_prompt(&mut self) {
        let Some(p) = self.prompt else { return };
        if let Some(last) = self.lines.last_mut() {
            let prompt: String = last.chars().take(p.len).collect();
            *last = prompt;
            if p.echo {
                last.extend(self.line.input.iter());
            }
        }
        self.touch();
    }

    /// Replaces the whole screen with full-screen text.
    fn show(&mut self, lines: Vec<String>) {
        self.lines = lines;
        self.touch();
    }

    fn os_name(&self) -> String {
        match &self.installed_from {
            None => PREINSTALLED.to_owned(),
            Some(image) => format!("nanokvm-sim Linux 2.0 ({})", base_name(image)),
        }
    }

    // --- power

    /// Powers on: the self test starts. A DEL or F2 key already held asks for setup.
    pub(crate) fn power_on(&mut self) {
        let setup = self
            .previous_keys
            .keys()
            .any(|k| matches!(k.usage(), usage::F2 | usage::DELETE));
        self.decoder.reset();
        self.boot_media = None;
        self.enter(Mode::Post { setup });
        self.lines.clear();
        self.print(FIRMWARE);
        self.print("Memory test: 8192 MB OK");
        if setup {
            self.print("Entering setup...");
        }
        self.set_timer(POST_TIME);
    }

    /// Cuts the power.
    pub(crate) fn power_off(&mut self) {
        self.enter(Mode::Off);
        self.lines.clear();
        self.boot_media = None;
        self.decoder.reset();
    }

    /// The power button was held for `held` (firmware time).
    pub(crate) fn power_button(&mut self, held: Duration) {
        if held >= LONG_PRESS {
            if self.mode != Mode::Off {
                self.power_off();
            }
            return;
        }
        match self.mode {
            Mode::Off => self.power_on(),
            // An operating system shuts down cleanly (ACPI).
            Mode::InstallerMenu { .. }
            | Mode::Installing { .. }
            | Mode::InstallDone
            | Mode::Login { .. }
            | Mode::Shell
            | Mode::Desktop(_) => self.shut_down(false),
            // The firmware has no operating system to ask: the power goes off at once.
            Mode::Post { .. }
            | Mode::Splash
            | Mode::Setup(_)
            | Mode::Pxe { .. }
            | Mode::NoBootDevice => {
                self.power_off();
            }
            // A system still loading, or already going down, ignores the press.
            Mode::LoadingOs | Mode::LoadingInstaller | Mode::ShuttingDown { .. } => {}
        }
    }

    /// The reset button: a powered machine restarts at once.
    pub(crate) fn reset_button(&mut self) {
        if self.mode != Mode::Off {
            self.power_on();
        }
    }

    fn shut_down(&mut self, reboot: bool) {
        self.enter(Mode::ShuttingDown { reboot });
        self.print("");
        self.print(if reboot {
            "System is going down for reboot."
        } else {
            "System is going down for power-off."
        });
        self.set_timer(SHUTDOWN_TIME);
    }

    /// The KVM mounted or ejected its virtual CD-ROM (`None`: no CD-ROM medium).
    pub(crate) fn set_medium(&mut self, medium: Option<String>) {
        if self.medium == medium {
            return;
        }
        self.medium = medium;
        if matches!(self.mode, Mode::Installing { .. }) && self.medium.is_none() {
            // The installer loses its source.
            self.enter(Mode::InstallDone);
            self.show(vec![
                String::new(),
                "  Installation failed: the installation medium was removed.".to_owned(),
                String::new(),
                "  Press Enter to reboot.".to_owned(),
            ]);
        }
    }

    /// A timer set earlier ran out; `false` when it was cancelled meanwhile.
    pub(crate) fn elapse(&mut self, id: u64) -> bool {
        if self.timer.map(|(t, _)| t) != Some(id) {
            return false;
        }
        self.timer = None;
        match self.mode.clone() {
            Mode::Post { setup: true } => self.enter_setup(),
            Mode::Post { setup: false } => {
                self.mode = Mode::Splash;
                self.print("");
                self.print("Press DEL or F2 to enter setup");
                self.set_timer(SPLASH_TIME);
            }
            Mode::Splash => {
                self.print("");
                self.boot_from(0);
            }
            Mode::Pxe { next } => {
                self.print("PXE-E53: No boot filename received");
                self.boot_from(next);
            }
            Mode::LoadingOs => self.os_started(),
            Mode::LoadingInstaller => {
                self.enter(Mode::InstallerMenu { selected: 0 });
                self.draw_installer_menu(None);
            }
            Mode::Installing { step } => {
                let step = step + 1;
                if step >= INSTALL_STEPS {
                    self.installed_from.clone_from(&self.boot_media);
                    self.bootable_disk = true;
                    self.enter(Mode::InstallDone);
                    self.show(vec![
                        String::new(),
                        format!("  Installed {} on the hard disk.", self.os_name()),
                        "  Installation complete.".to_owned(),
                        String::new(),
                        "  Remove the installation medium, then press Enter to reboot.".to_owned(),
                    ]);
                } else {
                    self.mode = Mode::Installing { step };
                    self.draw_progress(step);
                    self.set_timer(self.install_step());
                }
            }
            Mode::ShuttingDown { reboot: true } => self.power_on(),
            Mode::ShuttingDown { reboot: false } => self.power_off(),
            _ => {}
        }
        self.touch();
        true
    }

    fn install_step(&self) -> Duration {
        self.config.install_time / INSTALL_STEPS
    }

    /// Tries the boot devices from `index` on in the boot order.
    fn boot_from(&mut self, index: usize) {
        for i in index..self.boot_order.len() {
            match self.boot_order[i] {
                BootDevice::HardDisk if !self.bootable_disk => {
                    self.print("Hard Disk: no operating system");
                }
                BootDevice::HardDisk => {
                    self.print("Booting from Hard Disk...");
                    self.print(format!("Loading Linux {} ...", shell::KERNEL));
                    self.enter(Mode::LoadingOs);
                    self.set_timer(OS_BOOT_TIME);
                    return;
                }
                BootDevice::CdRom => match self.medium.clone() {
                    Some(image) => {
                        self.print(format!("Booting from CD-ROM: {}...", base_name(&image)));
                        self.boot_media = Some(image);
                        self.enter(Mode::LoadingInstaller);
                        self.set_timer(INSTALLER_BOOT_TIME);
                        return;
                    }
                    None => self.print("CD-ROM: no medium"),
                },
                BootDevice::Network => {
                    self.print("PXE: starting network boot...");
                    self.enter(Mode::Pxe { next: i + 1 });
                    self.set_timer(PXE_TIMEOUT);
                    return;
                }
            }
        }
        self.enter(Mode::NoBootDevice);
        self.print("");
        self.print("No bootable device. Insert boot media and press any key.");
    }

    /// The installed system is up: its login prompt appears, and the host initialises
    /// its keyboard, which sends an LED output report with every lock off.
    fn os_started(&mut self) {
        self.enter(Mode::Login { user: None });
        self.lines.clear();
        self.decoder.set_caps_lock(false);
        self.set_leds(false, false, false);
        self.print("");
        let banner = format!("{} {} tty1", self.os_name(), self.config.hostname);
        self.print(banner);
        self.print("");
        self.login_prompt();
    }

    fn login_prompt(&mut self) {
        self.mode = Mode::Login { user: None };
        let prompt = format!("{} login: ", self.config.hostname);
        self.ask(&prompt, true);
    }

    fn shell_prompt(&mut self) {
        self.mode = Mode::Shell;
        let prompt = format!("{}@{}:~$ ", self.config.user, self.config.hostname);
        self.ask(&prompt, true);
    }

    fn logged_in(&mut self) {
        self.prompt = None;
        let welcome = format!("Welcome to {}!", self.os_name());
        self.print(welcome);
        self.print("");
        self.shell_prompt();
    }

    // --- firmware setup and the installer

    fn enter_setup(&mut self) {
        let setup = Setup::new(self.boot_order);
        self.lines = setup.lines(FIRMWARE);
        self.enter(Mode::Setup(setup));
    }

    fn setup_outcome(&mut self, setup: Setup, outcome: setup::Outcome) -> bool {
        match outcome {
            setup::Outcome::Unchanged => false,
            setup::Outcome::Changed => {
                self.lines = setup.lines(FIRMWARE);
                self.mode = Mode::Setup(setup);
                self.touch();
                true
            }
            setup::Outcome::Save(order) => {
                self.boot_order = order;
                self.power_on();
                true
            }
            setup::Outcome::Leave => {
                self.enter(Mode::Splash);
                self.lines.clear();
                self.print(FIRMWARE);
                self.print("");
                self.boot_from(0);
                true
            }
        }
    }

    fn draw_installer_menu(&mut self, note: Option<&str>) {
        let Mode::InstallerMenu { selected } = self.mode else {
            return;
        };
        let name = self.boot_media.as_deref().map_or("", base_name).to_owned();
        let entries = [
            format!("Install {name}"),
            "Boot from first hard disk".to_owned(),
            "Reboot".to_owned(),
        ];
        let mut lines = vec![
            String::new(),
            format!("  {name} - installer boot menu"),
            String::new(),
        ];
        for (i, e) in entries.iter().enumerate() {
            lines.push(format!("  {} {e}", if i == selected { ">" } else { " " }));
        }
        lines.push(String::new());
        lines.push("  Up/Down: choose  Enter: start".to_owned());
        if let Some(note) = note {
            lines.push(String::new());
            lines.push(format!("  {note}"));
        }
        self.show(lines);
    }

    fn draw_progress(&mut self, step: u32) {
        let name = self.boot_media.as_deref().map_or("", base_name).to_owned();
        let done = usize::try_from(step).unwrap_or(0);
        let todo = usize::try_from(INSTALL_STEPS - step).unwrap_or(0);
        let percent = step * 100 / INSTALL_STEPS;
        self.show(vec![
            String::new(),
            format!("  Installing {name} to the hard disk"),
            String::new(),
            format!("  [{}{}] {percent:>3}%", "#".repeat(done), ".".repeat(todo)),
        ]);
    }

    fn installer_key(&mut self, key: u8) -> bool {
        let Mode::InstallerMenu { selected } = self.mode else {
            return false;
        };
        match key {
            usage::UP | usage::DOWN => {
                let selected = if key == usage::UP {
                    selected.saturating_sub(1)
                } else {
                    (selected + 1).min(2)
                };
                self.mode = Mode::InstallerMenu { selected };
                self.draw_installer_menu(None);
                true
            }
            usage::ENTER | usage::KEYPAD_ENTER => {
                match selected {
                    0 if self.medium.is_none() => {
                        self.draw_installer_menu(Some("The installation medium is gone."));
                    }
                    0 => {
                        self.enter(Mode::Installing { step: 0 });
                        self.draw_progress(0);
                        self.set_timer(self.install_step());
                    }
                    1 if !self.bootable_disk => {
                        self.draw_installer_menu(Some("The hard disk has no operating system."));
                    }
                    1 => {
                        self.enter(Mode::LoadingOs);
                        self.lines.clear();
                        self.print("Booting from Hard Disk...");
                        self.set_timer(OS_BOOT_TIME);
                    }
                    _ => self.power_on(),
                }
                true
            }
            _ => false,
        }
    }

    // --- keyboard

    fn set_leds(&mut self, num: bool, caps: bool, scroll: bool) {
        self.leds = Leds {
            num_lock: num,
            caps_lock: caps,
            scroll_lock: scroll,
            known: true,
            updated_at: Some(SystemTime::now()),
        };
    }

    /// A keyboard report reached the target.
    pub(crate) fn keyboard(&mut self, report: &KeyboardReport) {
        if self.mode == Mode::Off {
            self.previous_keys = *report;
            return;
        }
        let newly: Vec<Keycode> = report
            .keys()
            .filter(|k| !self.previous_keys.is_pressed(*k))
            .collect();
        self.previous_keys = *report;
        let events = self.decoder.feed(report);
        let changed = match self.mode {
            Mode::Login { .. } | Mode::Shell => self.type_at_prompt(events),
            _ => self.screen_keys(&newly, &events),
        };
        // The host answers lock keys with an LED output report.
        let mut leds = self.leds;
        let mut lock_changed = false;
        for key in &newly {
            if *key == Keycode::CAPS_LOCK {
                leds.caps_lock = self.decoder.caps_lock();
                lock_changed = true;
            } else if key.usage() == usage::NUM_LOCK {
                leds.num_lock = !leds.num_lock;
                lock_changed = true;
            } else if key.usage() == usage::SCROLL_LOCK {
                leds.scroll_lock = !leds.scroll_lock;
                lock_changed = true;
            }
        }
        if lock_changed {
            self.set_leds(leds.num_lock, leds.caps_lock, leds.scroll_lock);
        }
        if changed {
            self.touch();
        }
    }

    /// Keys on the screens that are not text prompts.
    fn screen_keys(&mut self, newly: &[Keycode], events: &[Decoded]) -> bool {
        let mut changed = false;
        for key in newly {
            let k = key.usage();
            changed |= match self.mode.clone() {
                Mode::Post { setup: false } if matches!(k, usage::F2 | usage::DELETE) => {
                    self.mode = Mode::Post { setup: true };
                    self.print("Entering setup...");
                    true
                }
                Mode::Splash if matches!(k, usage::F2 | usage::DELETE) => {
                    self.enter_setup();
                    true
                }
                Mode::Setup(mut setup) => {
                    let key = match k {
                        usage::LEFT => Some(setup::Key::Left),
                        usage::RIGHT => Some(setup::Key::Right),
                        usage::UP => Some(setup::Key::Up),
                        usage::DOWN => Some(setup::Key::Down),
                        usage::F6 | usage::KEYPAD_PLUS => Some(setup::Key::Raise),
                        usage::F5 | usage::KEYPAD_MINUS => Some(setup::Key::Lower),
                        usage::ENTER | usage::KEYPAD_ENTER => Some(setup::Key::Enter),
                        usage::F10 => Some(setup::Key::Save),
                        usage::ESCAPE => Some(setup::Key::Escape),
                        _ => None,
                    };
                    match key {
                        Some(key) => {
                            let outcome = setup.key(key);
                            self.setup_outcome(setup, outcome)
                        }
                        None => false,
                    }
                }
                Mode::InstallerMenu { .. } => self.installer_key(k),
                Mode::InstallDone if matches!(k, usage::ENTER | usage::KEYPAD_ENTER) => {
                    self.power_on();
                    true
                }
                Mode::NoBootDevice => {
                    self.power_on();
                    true
                }
                _ => false,
            };
        }
        // `+` and `-` as the layout types them (keypad keys were handled above).
        if let Mode::Setup(setup) = self.mode.clone() {
            let keypad = newly
                .iter()
                .any(|k| matches!(k.usage(), usage::KEYPAD_PLUS | usage::KEYPAD_MINUS));
            let mut setup = setup.clone();
            let mut outcome = setup::Outcome::Unchanged;
            if !keypad {
                for event in events {
                    let key = match event {
                        Decoded::Text('+') => setup::Key::Raise,
                        Decoded::Text('-') => setup::Key::Lower,
                        _ => continue,
                    };
                    if let o @ (setup::Outcome::Changed
                    | setup::Outcome::Save(_)
                    | setup::Outcome::Leave) = setup.key(key)
                    {
                        outcome = o;
                    }
                }
            }
            changed |= self.setup_outcome(setup, outcome);
        }
        changed
    }

    /// Keys at a text prompt: edits, and what Enter or Ctrl+C do.
    fn type_at_prompt(&mut self, events: Vec<Decoded>) -> bool {
        let layout: Layout = self.decoder.layout();
        let mut changed = false;
        for event in events {
            let Some(edit) = Edit::of(event, layout) else {
                continue;
            };
            // Enter may have left the prompts (a reboot, the desktop).
            if self.prompt.is_none() {
                continue;
            }
            match self.line.apply(edit) {
                Applied::Unchanged => {}
                Applied::Changed => {
                    self.redraw_prompt();
                    changed = true;
                }
                Applied::Accept => {
                    let text = self.line.text();
                    self.prompt = None;
                    self.line = Line::default();
                    self.submit(&text);
                    changed = true;
                }
                Applied::Interrupt => {
                    let hidden = self.prompt.is_some_and(|p| !p.echo);
                    if !hidden && let Some(last) = self.lines.last_mut() {
                        last.push_str("^C");
                    }
                    self.prompt = None;
                    self.line = Line::default();
                    match self.mode {
                        Mode::Shell => self.shell_prompt(),
                        _ => self.login_prompt(),
                    }
                    changed = true;
                }
            }
        }
        changed
    }

    /// A line was entered at the current prompt.
    fn submit(&mut self, text: &str) {
        match self.mode.clone() {
            Mode::Login { user: None } => {
                if text.is_empty() {
                    self.login_prompt();
                } else {
                    self.mode = Mode::Login {
                        user: Some(text.to_owned()),
                    };
                    self.ask("Password: ", false);
                }
            }
            Mode::Login { user: Some(user) } => {
                if user == self.config.user && text == self.config.password {
                    self.logged_in();
                } else {
                    self.print("");
                    self.print("Login incorrect");
                    self.login_prompt();
                }
            }
            Mode::Shell => self.run_command(text),
            _ => {}
        }
    }

    fn run_command(&mut self, text: &str) {
        let os = self.os_name();
        let installed = self.installed_from.as_deref().map(base_name);
        let cx = shell::Context {
            user: &self.config.user,
            hostname: &self.config.hostname,
            os: &os,
            installed_from: installed,
            now: SystemTime::now(),
        };
        let (output, action) = shell::run(text, &cx);
        for line in output {
            self.print(line);
        }
        match action {
            shell::Action::None => self.shell_prompt(),
            shell::Action::Clear => {
                self.lines.clear();
                self.shell_prompt();
            }
            shell::Action::Reboot => self.shut_down(true),
            shell::Action::PowerOff => self.shut_down(false),
            shell::Action::Logout => {
                self.lines.clear();
                self.print("");
                let banner = format!("{} {} tty1", self.os_name(), self.config.hostname);
                self.print(banner);
                self.print("");
                self.login_prompt();
            }
            shell::Action::StartX => {
                let desktop = Desktop::default();
                self.lines = desktop.lines(&self.config.user, self.grid.0, self.grid.1);
                self.enter(Mode::Desktop(desktop));
            }
        }
    }

    // --- pointer

    /// The text cell under the pointer, if it is on the text grid.
    fn pointer_cell(&self) -> Option<(usize, usize)> {
        let layout = screen::Layout::new(self.width, self.height);
        let (x, y) = self.pointer;
        let col = usize::try_from(x.checked_sub(layout.margin)? / layout.cell_w).ok()?;
        let row = usize::try_from(y.checked_sub(layout.margin)? / layout.cell_h).ok()?;
        (col < layout.cols && row < layout.rows).then_some((col, row))
    }

    fn buttons_changed(&mut self, buttons: MouseButtons) {
        let before = self.buttons.bits();
        let pressed = buttons.bits() & !before;
        self.buttons = buttons;
        if pressed == 0 || self.power() != PowerState::On {
            return;
        }
        self.clicks.push(Click {
            buttons: MouseButtons::from_bits(pressed),
            x: self.pointer.0,
            y: self.pointer.1,
        });
        if pressed & MouseButtons::LEFT.bits() == 0 {
            return;
        }
        let cell = self.pointer_cell();
        match (self.mode.clone(), cell) {
            (Mode::Setup(mut setup), Some((col, row))) => {
                let outcome = setup.click(col, row);
                self.setup_outcome(setup, outcome);
            }
            (Mode::Desktop(_), Some((col, row))) => {
                match Desktop::button_at(self.grid.0, self.grid.1, col, row) {
                    Some("Log out") => {
                        self.enter(Mode::Shell);
                        self.lines.clear();
                        self.shell_prompt();
                    }
                    Some(label) => {
                        let desktop = Desktop {
                            message: format!("You clicked {label}."),
                        };
                        self.lines = desktop.lines(&self.config.user, self.grid.0, self.grid.1);
                        self.mode = Mode::Desktop(desktop);
                        self.touch();
                    }
                    None => {}
                }
            }
            _ => {}
        }
    }

    /// A relative mouse report reached the target; the desktop ignores it.
    pub(crate) fn relative(&mut self, report: &RelativeReport) {
        if matches!(self.mode, Mode::Desktop(_)) {
            return;
        }
        let clamp = |v: i64, max: u32| {
            u32::try_from(v.clamp(0, i64::from(max.saturating_sub(1)))).unwrap_or(0)
        };
        let x = clamp(i64::from(self.pointer.0) + i64::from(report.dx), self.width);
        let y = clamp(
            i64::from(self.pointer.1) + i64::from(report.dy),
            self.height,
        );
        if (x, y) != self.pointer {
            self.pointer = (x, y);
            self.touch();
        }
        self.buttons_changed(report.buttons);
    }

    /// An absolute pointer report reached the target; the firmware setup ignores it.
    pub(crate) fn absolute(&mut self, report: &AbsoluteReport) {
        if matches!(self.mode, Mode::Setup(_)) {
            return;
        }
        let scale = |v: u16, size: u32| {
            let max = u64::from(size.saturating_sub(1));
            u32::try_from(u64::from(v) * max / u64::from(nanokvm_hid::AbsolutePosition::MAX))
                .unwrap_or(0)
        };
        let pos = (
            scale(report.position.x(), self.width),
            scale(report.position.y(), self.height),
        );
        if pos != self.pointer {
            self.pointer = pos;
            self.touch();
        }
        self.buttons_changed(report.buttons);
    }
}

/// The file name of an image path, as installers show it.
fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nanokvm_hid::Modifiers;

    fn key(k: u8, m: Modifiers) -> KeyboardReport {
        KeyboardReport::single(m, Some(Keycode::from_usage(k)))
    }

    /// A running machine at its login prompt.
    fn machine(layout: Layout, width: u32, height: u32) -> MachineState {
        MachineState::new(&MachineConfig::new().layout(layout), width, height, true)
    }

    /// A running machine logged in at its shell.
    fn logged_in(layout: Layout) -> MachineState {
        let config = MachineConfig::new().layout(layout).logged_in(true);
        MachineState::new(&config, 640, 480, true)
    }

    const SHELL: &str = "user@target:~$ ";

    #[test]
    fn typing_edits_the_last_line_without_erasing_the_prompt() {
        let mut m = machine(Layout::Us, 640, 480);
        for r in [
            key(0x0B, Modifiers::LEFT_SHIFT),
            KeyboardReport::RELEASE,
            key(0x0C, Modifiers::NONE),
            KeyboardReport::RELEASE,
        ] {
            m.keyboard(&r);
        }
        assert!(m.screen_text().ends_with("target login: Hi"));
        for _ in 0..5 {
            m.keyboard(&key(0x2A, Modifiers::NONE));
            m.keyboard(&KeyboardReport::RELEASE);
        }
        assert!(m.screen_text().ends_with("target login: "));
        m.keyboard(&key(0x28, Modifiers::NONE));
        assert!(m.screen_text().ends_with("target login: \ntarget login: "));
    }

    /// One step of an editing script.
    #[derive(Clone, Copy)]
    enum Step {
        /// Type this text (encoded for the machine's layout).
        Type(&'static str),
        /// Tap these chords, written as for `KeySequence::parse`.
        Keys(&'static str),
    }
    use Step::{Keys, Type};

    /// Feeds `steps` to `m` as the device would send them: each stroke or chord pressed,
    /// then released.
    fn run(m: &mut MachineState, steps: &[Step]) {
        let layout = m.decoder.layout();
        for step in steps {
            let reports = match *step {
                Type(text) => nanokvm_hid::reports(&nanokvm_hid::encode(text, layout).unwrap()),
                Keys(keys) => nanokvm_hid::KeySequence::parse(keys).unwrap().reports(),
            };
            for report in reports {
                m.keyboard(&report);
            }
        }
    }

    const PROMPT: &str = "target login: ";

    #[test]
    fn editing_keys_follow_readline_emacs_defaults() {
        // (what, script, input line after it, cursor after it)
        let cases: &[(&str, &[Step], &str, usize)] = &[
            ("typing appends", &[Type("hello")], "hello", 5),
            (
                "text is inserted at the cursor",
                &[Type("ac"), Keys("left"), Type("b")],
                "abc",
                2,
            ),
            ("tab is inserted as text", &[Type("a\tb")], "a\tb", 3),
            ("backspace", &[Type("abc"), Keys("left backspace")], "ac", 1),
            (
                "ctrl+h is backspace",
                &[Type("abc"), Keys("ctrl+h")],
                "ab",
                2,
            ),
            (
                "backspace at the start",
                &[Type("ab"), Keys("home backspace")],
                "ab",
                0,
            ),
            ("delete", &[Type("abc"), Keys("home delete")], "bc", 0),
            (
                "ctrl+d deletes at the cursor",
                &[Type("abc"), Keys("ctrl+b ctrl+d")],
                "ab",
                2,
            ),
            (
                "delete at the end",
                &[Type("abc"), Keys("delete")],
                "abc",
                3,
            ),
            ("ctrl+d on an empty input", &[Keys("ctrl+d")], "", 0),
            (
                "left and right",
                &[Type("abc"), Keys("left left right")],
                "abc",
                2,
            ),
            (
                "left stops at the start",
                &[Type("ab"), Keys("left left left")],
                "ab",
                0,
            ),
            (
                "right stops at the end",
                &[Type("ab"), Keys("right")],
                "ab",
                2,
            ),
            (
                "ctrl+b and ctrl+f",
                &[Type("abc"), Keys("ctrl+b ctrl+b ctrl+f")],
                "abc",
                2,
            ),
            (
                "home and end",
                &[Type("abc"), Keys("home"), Type("x"), Keys("end"), Type("y")],
                "xabcy",
                5,
            ),
            (
                "ctrl+a and ctrl+e",
                &[
                    Type("abc"),
                    Keys("ctrl+a"),
                    Type("x"),
                    Keys("ctrl+e"),
                    Type("y"),
                ],
                "xabcy",
                5,
            ),
            ("ctrl+u at the end", &[Type("ls -l"), Keys("ctrl+u")], "", 0),
            (
                "ctrl+u in the middle keeps the tail",
                &[Type("echo hi"), Keys("left left ctrl+u")],
                "hi",
                0,
            ),
            (
                "ctrl+shift+u is ctrl+u",
                &[Type("echo hi"), Keys("left left ctrl+shift+u")],
                "hi",
                0,
            ),
            (
                "right ctrl+u is ctrl+u",
                &[Type("echo hi"), Keys("rctrl+u")],
                "",
                0,
            ),
            (
                "ctrl+alt+u does nothing",
                &[Type("echo hi"), Keys("ctrl+alt+u")],
                "echo hi",
                7,
            ),
            (
                "ctrl+meta+u does nothing",
                &[Type("echo hi"), Keys("ctrl+win+u")],
                "echo hi",
                7,
            ),
            (
                "ctrl+k",
                &[Type("echo hi"), Keys("ctrl+a right ctrl+k")],
                "e",
                1,
            ),
            (
                "ctrl+w deletes the last word",
                &[Type("echo foo bar"), Keys("ctrl+w")],
                "echo foo ",
                9,
            ),
            (
                "ctrl+w deletes blanks then a word",
                &[Type("echo foo  \t "), Keys("ctrl+w")],
                "echo ",
                5,
            ),
            (
                "ctrl+w keeps the tail",
                &[Type("cp a/b-c d"), Keys("left left ctrl+w")],
                "cp  d",
                3,
            ),
            (
                "ctrl+w at the start",
                &[Type("abc"), Keys("home ctrl+w")],
                "abc",
                0,
            ),
            (
                "ctrl+w treats punctuation as part of a word",
                &[Type("rm -rf /tmp/x"), Keys("ctrl+w ctrl+w")],
                "rm ",
                3,
            ),
            (
                "enter starts a new line",
                &[Type("ab"), Keys("left enter")],
                "",
                0,
            ),
            ("keypad enter", &[Type("ab"), Keys("numpadenter")], "", 0),
            (
                "ctrl+m is enter",
                &[Type("ab"), Keys("ctrl+m"), Type("c")],
                "c",
                1,
            ),
            ("ctrl+j is enter", &[Type("ab"), Keys("ctrl+j")], "", 0),
            (
                "ctrl+c abandons the line",
                &[Type("ab"), Keys("left ctrl+c")],
                "",
                0,
            ),
            (
                "up and down do nothing",
                &[Type("ab"), Keys("left up down")],
                "ab",
                1,
            ),
            (
                "modified arrows do nothing",
                &[
                    Type("ab"),
                    Keys("ctrl+left shift+home alt+end shift+delete"),
                ],
                "ab",
                2,
            ),
            (
                "function keys and escape do nothing",
                &[Type("ab"), Keys("f1 escape pageup insert")],
                "ab",
                2,
            ),
            (
                "other ctrl+letters do nothing",
                &[Type("ab"), Keys("ctrl+l ctrl+y ctrl+t ctrl+q")],
                "ab",
                2,
            ),
            (
                "ctrl+enter does nothing",
                &[Type("ab"), Keys("ctrl+enter")],
                "ab",
                2,
            ),
        ];
        for (what, script, input, cursor) in cases {
            let mut m = logged_in(Layout::Us);
            run(&mut m, script);
            assert_eq!(
                (m.input_line().as_str(), m.cursor()),
                (*input, *cursor),
                "{what}"
            );
            let last = m.lines().last().unwrap();
            assert!(last.ends_with(input), "{what}: the screen shows {last:?}");
        }
    }

    #[test]
    fn enter_and_ctrl_c_leave_the_line_on_screen() {
        let mut m = logged_in(Layout::Us);
        run(&mut m, &[Type("root"), Keys("home enter")]);
        run(&mut m, &[Type("rm -rf /"), Keys("ctrl+a ctrl+c")]);
        run(&mut m, &[Type("ls"), Keys("ctrl+a")]);
        let tail = &m.lines()[m.lines().len() - 4..];
        assert_eq!(
            tail,
            [
                format!("{SHELL}root"),
                "-bash: root: command not found".to_owned(),
                format!("{SHELL}rm -rf /^C"),
                format!("{SHELL}ls"),
            ]
        );
        assert_eq!((m.input_line(), m.cursor()), ("ls".to_owned(), 0));
    }

    #[test]
    fn backspace_never_eats_the_prompt() {
        let mut m = machine(Layout::Us, 640, 480);
        assert_eq!((m.input_line(), m.cursor()), (String::new(), 0));
        let version = m.screen_version();
        run(&mut m, &[Keys("backspace ctrl+h ctrl+w ctrl+u left home")]);
        assert_eq!(m.lines().last().unwrap(), PROMPT);
        assert_eq!(
            m.screen_version(),
            version,
            "nothing changed, nothing redrawn"
        );
        run(
            &mut m,
            &[Type("ab"), Keys("home ctrl+w backspace end ctrl+w")],
        );
        assert_eq!(m.lines().last().unwrap(), PROMPT);
        run(
            &mut m,
            &[Type("xy"), Keys("backspace backspace backspace backspace")],
        );
        assert_eq!(m.lines().last().unwrap(), PROMPT);
        assert_eq!((m.input_line(), m.cursor()), (String::new(), 0));
    }

    #[test]
    fn ctrl_letters_follow_the_target_layout() {
        let mut m = machine(Layout::Fr, 640, 480);
        // On AZERTY, usage 0x14 (QWERTY's Q) is the A key: Ctrl+A goes to the start.
        run(&mut m, &[Type("abc"), Keys("ctrl+0x14")]);
        assert_eq!((m.input_line().as_str(), m.cursor()), ("abc", 0));
        // Usage 0x04 (QWERTY's A) types q there: Ctrl+Q is not bound.
        run(&mut m, &[Keys("end ctrl+0x04")]);
        assert_eq!((m.input_line().as_str(), m.cursor()), ("abc", 3));
        // Usage 0x1A (QWERTY's W) is Z on AZERTY; W is usage 0x1D.
        run(&mut m, &[Type(" de"), Keys("ctrl+0x1a")]);
        assert_eq!(m.input_line(), "abc de");
        run(&mut m, &[Keys("ctrl+0x1d")]);
        assert_eq!((m.input_line().as_str(), m.cursor()), ("abc ", 4));
        // A dead key types no letter, so Ctrl with it does nothing.
        run(&mut m, &[Keys("ctrl+0x2f")]);
        assert_eq!(m.input_line(), "abc ");
        // Editing counts characters, not bytes.
        run(&mut m, &[Type("éàx"), Keys("left backspace")]);
        assert_eq!((m.input_line().as_str(), m.cursor()), ("abc éx", 5));
    }

    /// Fires the pending timer; `false` when there is none.
    fn tick(m: &mut MachineState) -> bool {
        match m.timer() {
            Some((id, _)) => m.elapse(id),
            None => false,
        }
    }

    /// Fires timers until `stage` is reached (at most 100).
    fn until(m: &mut MachineState, stage: Stage) {
        for _ in 0..100 {
            if m.stage() == stage {
                return;
            }
            assert!(
                tick(m),
                "stuck at {:?} before {stage:?}: {}",
                m.stage(),
                m.screen_text()
            );
        }
        panic!("{stage:?} never came: {}", m.screen_text());
    }

    fn tap(m: &mut MachineState, keys: &'static str) {
        run(m, &[Keys(keys)]);
    }

    #[test]
    fn a_machine_started_logged_in_shows_the_login_it_skipped() {
        let m = logged_in(Layout::Us);
        assert_eq!(m.stage(), Stage::Shell);
        assert_eq!(
            m.screen_text(),
            "\nnanokvm-sim Linux 1.0 target tty1\n\ntarget login: user\nPassword: \n\
             Welcome to nanokvm-sim Linux 1.0!\n\nuser@target:~$ "
        );
        assert_eq!((m.input_line(), m.cursor()), (String::new(), 0));
    }

    #[test]
    fn a_machine_without_a_prompt_has_no_input_line() {
        let mut m = machine(Layout::Us, 640, 480);
        run(&mut m, &[Type("abc"), Keys("left")]);
        assert_eq!((m.input_line().as_str(), m.cursor()), ("abc", 2));
        m.power_button(Duration::from_millis(800));
        assert_eq!(m.power(), PowerState::ShuttingDown);
        assert_eq!((m.input_line(), m.cursor()), (String::new(), 0));
        until(&mut m, Stage::Off);
        assert_eq!(
            (m.input_line(), m.cursor(), m.screen_text()),
            (String::new(), 0, String::new())
        );
        m.power_button(Duration::from_millis(800));
        assert_eq!(m.stage(), Stage::Post);
        run(&mut m, &[Type("abc")]);
        assert_eq!(m.input_line(), "");
        until(&mut m, Stage::Login);
        assert_eq!((m.input_line(), m.cursor()), (String::new(), 0));
        run(&mut m, &[Type("x")]);
        assert_eq!(m.lines().last().unwrap(), &format!("{PROMPT}x"));
    }

    #[test]
    fn power_on_shows_the_splash_then_boots_the_disk_to_a_login_prompt() {
        let mut m = MachineState::new(&MachineConfig::new(), 640, 480, false);
        assert_eq!((m.stage(), m.power()), (Stage::Off, PowerState::Off));
        m.power_button(Duration::from_millis(800));
        assert_eq!((m.stage(), m.power()), (Stage::Post, PowerState::Booting));
        assert!(m.disk_active(), "the self test reads the disk");
        assert_eq!(m.timer().map(|t| t.1), Some(POST_TIME));
        tick(&mut m);
        assert_eq!(m.stage(), Stage::Splash);
        assert!(m.screen_text().ends_with("Press DEL or F2 to enter setup"));
        assert_eq!(m.timer().map(|t| t.1), Some(SPLASH_TIME));
        tick(&mut m);
        assert!(m.screen_text().contains("Booting from Hard Disk..."));
        assert!(m.disk_active());
        tick(&mut m);
        assert_eq!((m.stage(), m.power()), (Stage::Login, PowerState::On));
        assert_eq!(
            m.screen_text(),
            "\nnanokvm-sim Linux 1.0 target tty1\n\ntarget login: "
        );
        assert!(!tick(&mut m), "a login prompt waits for ever");
        // A timer that was replaced does nothing when it fires late.
        assert!(!m.elapse(1));
    }

    #[test]
    fn power_button_semantics_follow_what_runs() {
        // Firmware screens turn off at once on a short press.
        let mut m = MachineState::new(&MachineConfig::new(), 640, 480, false);
        m.power_button(Duration::from_millis(800));
        tick(&mut m);
        m.power_button(Duration::from_millis(800));
        assert_eq!(m.stage(), Stage::Off);
        // A system still loading ignores it; a long press forces the power off.
        m.power_button(Duration::from_millis(800));
        until(&mut m, Stage::Booting);
        m.power_button(Duration::from_millis(800));
        assert_eq!(m.stage(), Stage::Booting);
        m.power_button(LONG_PRESS);
        assert_eq!(m.stage(), Stage::Off);
        // Reset restarts a running machine, and does nothing to one that is off.
        m.reset_button();
        assert_eq!(m.stage(), Stage::Off);
        let mut m = logged_in(Layout::Us);
        m.reset_button();
        assert_eq!(m.stage(), Stage::Post);
        // An operating system shuts down, then the power goes.
        let mut m = logged_in(Layout::Us);
        m.power_button(Duration::from_millis(800));
        assert!(
            m.screen_text()
                .ends_with("System is going down for power-off.")
        );
        assert_eq!(m.timer().map(|t| t.1), Some(SHUTDOWN_TIME));
        m.power_button(Duration::from_millis(800));
        until(&mut m, Stage::Off);
    }

    #[test]
    fn f2_during_the_splash_or_held_at_power_on_enters_setup() {
        let mut m = MachineState::new(&MachineConfig::new(), 640, 480, false);
        m.power_button(Duration::from_millis(800));
        tick(&mut m);
        tap(&mut m, "f2");
        assert_eq!(m.stage(), Stage::Setup);
        assert!(m.screen_text().contains("Firmware Setup Utility"));
        // Held before the power came on, DEL asks for setup too.
        let mut m = MachineState::new(&MachineConfig::new(), 640, 480, false);
        m.keyboard(&key(usage::DELETE, Modifiers::NONE));
        m.power_button(Duration::from_millis(800));
        assert!(m.screen_text().ends_with("Entering setup..."));
        m.keyboard(&KeyboardReport::RELEASE);
        tick(&mut m);
        assert_eq!(m.stage(), Stage::Setup);
        // Pressed during the self test, F2 waits for its end.
        let mut m = MachineState::new(&MachineConfig::new(), 640, 480, false);
        m.power_button(Duration::from_millis(800));
        tap(&mut m, "f2");
        assert_eq!(m.stage(), Stage::Post);
        tick(&mut m);
        assert_eq!(m.stage(), Stage::Setup);
    }

    fn in_setup() -> MachineState {
        let mut m = MachineState::new(&MachineConfig::new(), 640, 480, false);
        m.power_button(Duration::from_millis(800));
        tick(&mut m);
        tap(&mut m, "f2");
        m
    }

    #[test]
    fn setup_moves_the_boot_order_and_f10_saves_and_resets() {
        let mut m = in_setup();
        tap(&mut m, "right right");
        assert!(m.screen_text().contains("[Boot]"), "{}", m.screen_text());
        // `+` typed through the layout (Shift+= on US) and F6 raise; `-` and F5 lower.
        tap(&mut m, "down");
        run(&mut m, &[Type("+")]);
        assert_eq!(m.lines()[3], "> Boot Option #1   CD-ROM");
        tap(&mut m, "down down f6 f5");
        run(&mut m, &[Type("-")]);
        assert_eq!(m.lines()[5], "> Boot Option #3   Network (PXE)");
        tap(&mut m, "f6 f6");
        assert_eq!(
            m.boot_order(),
            [BootDevice::HardDisk, BootDevice::CdRom, BootDevice::Network],
            "not saved yet"
        );
        tap(&mut m, "f10");
        assert_eq!(
            m.boot_order(),
            [BootDevice::Network, BootDevice::CdRom, BootDevice::HardDisk]
        );
        assert_eq!(m.stage(), Stage::Post, "saving resets");
        let mut m = in_setup();
        tap(&mut m, "left left down");
        run(&mut m, &[Type("+")]);
        tap(&mut m, "f10");
        assert_eq!(
            m.boot_order(),
            [BootDevice::CdRom, BootDevice::HardDisk, BootDevice::Network]
        );
        // Esc leaves without saving and boots on.
        tick(&mut m);
        tap(&mut m, "f2 right right down numpadadd escape");
        assert_eq!(
            m.boot_order(),
            [BootDevice::CdRom, BootDevice::HardDisk, BootDevice::Network]
        );
        assert_eq!(m.stage(), Stage::Booting);
        assert!(
            m.screen_text().contains("CD-ROM: no medium"),
            "{}",
            m.screen_text()
        );
    }

    #[test]
    fn setup_follows_only_the_relative_pointer() {
        let mut m = in_setup();
        let layout = screen::Layout::new(640, 480);
        let before = m.pointer();
        m.absolute(&AbsoluteReport::from_bytes(&[1, 0, 0, 0, 0, 0]).unwrap());
        assert_eq!(m.pointer(), before, "absolute reports are ignored");
        assert!(m.clicks().is_empty());
        // Move onto the `Boot` tab's name and click it.
        let col = m.lines()[1].find("Boot").unwrap();
        let (x, y) = layout.cell(col, 1);
        let mut pos = before;
        while pos.0 != x || pos.1 != y {
            let dx = (i64::from(x) - i64::from(pos.0)).clamp(-127, 127);
            let dy = (i64::from(y) - i64::from(pos.1)).clamp(-127, 127);
            let report = [0, dx as i8 as u8, dy as i8 as u8, 0];
            m.relative(&RelativeReport::from_bytes(&report).unwrap());
            pos = m.pointer();
        }
        m.relative(&RelativeReport::from_bytes(&[1, 0, 0, 0]).unwrap());
        m.relative(&RelativeReport::from_bytes(&[0, 0, 0, 0]).unwrap());
        assert!(m.screen_text().contains("[Boot]"), "{}", m.screen_text());
    }

    #[test]
    fn a_mounted_cd_first_in_the_order_boots_the_installer_and_installs() {
        let config = MachineConfig::new()
            .boot_order([BootDevice::Network, BootDevice::CdRom])
            .install_time(Duration::from_secs(20));
        let mut m = MachineState::new(&config, 640, 480, false);
        assert_eq!(
            m.boot_order(),
            [BootDevice::Network, BootDevice::CdRom, BootDevice::HardDisk]
        );
        m.set_medium(Some("/data/distro.iso".to_owned()));
        m.power_button(Duration::from_millis(800));
        until(&mut m, Stage::InstallerMenu);
        let text = m.screen_text();
        assert!(
            text.contains("PXE-E53: No boot filename received")
                || m.lines().iter().any(|l| l.contains("distro.iso")),
            "{text}"
        );
        assert_eq!(m.boot_media(), Some("/data/distro.iso"));
        assert!(
            m.lines().iter().any(|l| l == "  > Install distro.iso"),
            "{text}"
        );
        tap(&mut m, "down down up up enter");
        assert!(
            m.screen_text()
                .contains("Installing distro.iso to the hard disk"),
            "{}",
            m.screen_text()
        );
        assert_eq!(m.timer().map(|t| t.1), Some(Duration::from_secs(1)));
        assert!(m.disk_active());
        tick(&mut m);
        assert!(
            m.screen_text().ends_with("[#...................]   5%"),
            "{}",
            m.screen_text()
        );
        until(&mut m, Stage::InstallDone);
        assert_eq!(m.installed_from(), Some("/data/distro.iso"));
        assert!(m.screen_text().contains("Installation complete."));
        // Eject, reboot: the CD-ROM is empty, the network fails, the new system starts.
        m.set_medium(None);
        tap(&mut m, "enter");
        until(&mut m, Stage::Login);
        assert!(
            m.screen_text()
                .contains("nanokvm-sim Linux 2.0 (distro.iso) target tty1")
        );
    }

    #[test]
    fn ejecting_the_medium_fails_the_installation() {
        let config = MachineConfig::new().boot_order([BootDevice::CdRom]);
        let mut m = MachineState::new(&config, 640, 480, false);
        m.set_medium(Some("/data/distro.iso".to_owned()));
        m.power_button(Duration::from_millis(800));
        until(&mut m, Stage::InstallerMenu);
        tap(&mut m, "enter");
        tick(&mut m);
        m.set_medium(None);
        assert_eq!(m.stage(), Stage::InstallDone);
        assert!(m.screen_text().contains("Installation failed"));
        assert_eq!(m.installed_from(), None);
    }

    #[test]
    fn devices_that_cannot_boot_are_skipped_in_order() {
        let config = MachineConfig::new().boot_order([
            BootDevice::CdRom,
            BootDevice::Network,
            BootDevice::HardDisk,
        ]);
        let mut m = MachineState::new(&config, 640, 480, false);
        m.power_button(Duration::from_millis(800));
        until(&mut m, Stage::Login);
        let text = m.lines().join("\n");
        assert!(!text.contains("No bootable device"), "{text}");
    }

    #[test]
    fn a_blank_disk_boots_nothing_until_an_installation() {
        let config = MachineConfig::new().blank_disk(true);
        // Started powered on, it is just switched on.
        let mut m = MachineState::new(&config, 640, 480, true);
        assert_eq!(m.stage(), Stage::Post);
        until(&mut m, Stage::Booting);
        assert!(m.screen_text().contains("Hard Disk: no operating system"));
        assert!(m.screen_text().contains("CD-ROM: no medium"));
        assert!(m.screen_text().ends_with("PXE: starting network boot..."));
        until(&mut m, Stage::NoBootDevice);
        assert!(
            m.screen_text()
                .contains("PXE-E53: No boot filename received")
        );
        assert!(
            m.screen_text()
                .ends_with("No bootable device. Insert boot media and press any key.")
        );
        assert_eq!(m.power(), PowerState::On);
        assert!(!tick(&mut m), "it waits for a key");
        // Any key restarts; with an image in the drive the installer comes up.
        m.set_medium(Some("/data/distro.iso".to_owned()));
        tap(&mut m, "space");
        assert_eq!(m.stage(), Stage::Post);
        until(&mut m, Stage::InstallerMenu);
        tap(&mut m, "down enter");
        assert!(
            m.screen_text()
                .contains("The hard disk has no operating system.")
        );
        tap(&mut m, "up enter");
        until(&mut m, Stage::InstallDone);
        m.set_medium(None);
        tap(&mut m, "enter");
        until(&mut m, Stage::Login);
    }

    #[test]
    fn login_checks_the_password_and_the_shell_runs_commands() {
        let config = MachineConfig::new()
            .user("alice")
            .password("s3cret")
            .hostname("box");
        let mut m = MachineState::new(&config, 640, 480, true);
        run(&mut m, &[Type("alice\nwrong\n")]);
        assert!(
            m.screen_text()
                .ends_with("box login: alice\nPassword: \n\nLogin incorrect\nbox login: "),
            "{}",
            m.screen_text()
        );
        run(&mut m, &[Type("alice\ns3c")]);
        assert_eq!(m.input_line(), "s3c", "the password is read...");
        assert_eq!(m.lines().last().unwrap(), "Password: ", "...but not shown");
        run(&mut m, &[Type("ret\n")]);
        assert_eq!(m.stage(), Stage::Shell);
        assert!(
            m.screen_text()
                .ends_with("Welcome to nanokvm-sim Linux 1.0!\n\nalice@box:~$ ")
        );
        run(&mut m, &[Type("whoami\nuname -a\nnope\n")]);
        let tail = &m.lines()[m.lines().len() - 7..];
        let want = [
            "alice@box:~$ whoami",
            "alice",
            "alice@box:~$ uname -a",
            "Linux box 6.1.0-sim #1 SMP PREEMPT_DYNAMIC nanokvm-sim x86_64 GNU/Linux",
            "alice@box:~$ nope",
            "-bash: nope: command not found",
            "alice@box:~$ ",
        ];
        assert_eq!(tail, want);
        run(&mut m, &[Type("clear\n")]);
        assert_eq!(m.screen_text(), "alice@box:~$ ");
        run(&mut m, &[Type("exit\n")]);
        assert_eq!(m.stage(), Stage::Login);
        run(&mut m, &[Type("alice\ns3cret\nreboot\n")]);
        assert!(
            m.screen_text()
                .ends_with("System is going down for reboot.")
        );
        until(&mut m, Stage::Post);
    }

    #[test]
    fn text_typed_for_another_layout_comes_out_as_the_target_reads_it() {
        let mut m = logged_in(Layout::Us);
        let reports = nanokvm_hid::reports(&nanokvm_hid::encode("echo ßz", Layout::De).unwrap());
        for r in reports {
            m.keyboard(&r);
        }
        assert_eq!(m.input_line(), "echo -y");
    }

    #[test]
    fn the_desktop_follows_only_absolute_clicks_on_its_buttons() {
        let mut m = logged_in(Layout::Us);
        run(&mut m, &[Type("startx\n")]);
        assert_eq!(m.stage(), Stage::Desktop);
        assert!(m.screen_text().contains("Click a button."));
        assert!(!m.panels().is_empty());
        let before = m.pointer();
        m.relative(&RelativeReport::from_bytes(&[1, 10, 10, 0]).unwrap());
        assert_eq!(
            (m.pointer(), m.clicks().len()),
            (before, 0),
            "relative reports are ignored"
        );
        let click = |m: &mut MachineState, x: u32, y: u32| {
            let max = u32::from(nanokvm_hid::AbsolutePosition::MAX);
            // The inverse of the machine's scaling, rounded up so the pixel is hit.
            let ax = u16::try_from((u64::from(x) * u64::from(max)).div_ceil(639)).unwrap();
            let ay = u16::try_from((u64::from(y) * u64::from(max)).div_ceil(479)).unwrap();
            let [xl, xh] = ax.to_le_bytes();
            let [yl, yh] = ay.to_le_bytes();
            m.absolute(&AbsoluteReport::from_bytes(&[1, xl, xh, yl, yh, 0]).unwrap());
            m.absolute(&AbsoluteReport::from_bytes(&[0, xl, xh, yl, yh, 0]).unwrap());
        };
        let (x, y, w, h) = m.button_bounds("Cancel").unwrap();
        click(&mut m, x - 2, y + h / 2);
        assert!(
            m.screen_text().contains("Click a button."),
            "just left of the button"
        );
        click(&mut m, x + w / 2, y + h / 2);
        assert!(
            m.screen_text().contains("You clicked Cancel."),
            "{}",
            m.screen_text()
        );
        let (x, y, w, h) = m.button_bounds("OK").unwrap();
        click(&mut m, x + w - 1, y + h - 1);
        assert!(m.screen_text().contains("You clicked OK."));
        let (x, y, _, _) = m.button_bounds("Log out").unwrap();
        click(&mut m, x, y);
        assert_eq!(m.stage(), Stage::Shell);
        assert_eq!(m.button_bounds("OK"), None);
    }

    #[test]
    fn caps_lock_sets_the_led_and_shifts_letters() {
        let mut m = machine(Layout::Us, 640, 480);
        assert!(m.leds().known && !m.leds().caps_lock);
        m.keyboard(&key(0x39, Modifiers::NONE));
        m.keyboard(&KeyboardReport::RELEASE);
        assert!(m.leds().caps_lock);
        m.keyboard(&key(0x04, Modifiers::NONE));
        assert!(m.screen_text().ends_with('A'));
    }

    #[test]
    fn a_machine_that_is_off_sees_nothing() {
        let mut m = MachineState::new(&MachineConfig::new(), 640, 480, false);
        m.keyboard(&key(0x04, Modifiers::NONE));
        assert_eq!(m.screen_text(), "");
        assert!(!m.leds().known);
    }

    #[test]
    fn pointer_follows_absolute_and_relative_reports_and_records_clicks() {
        let mut m = machine(Layout::Us, 1001, 501);
        let bytes = [1, 0xFF, 0x7F, 0, 0, 0];
        m.absolute(&AbsoluteReport::from_bytes(&bytes).unwrap());
        assert_eq!(m.pointer(), (1000, 0));
        assert_eq!(m.clicks().len(), 1);
        m.relative(&RelativeReport::from_bytes(&[0, 0x80, 10, 0]).unwrap());
        assert_eq!(m.pointer(), (872, 10));
        assert_eq!(m.buttons(), MouseButtons::default());
    }
}
