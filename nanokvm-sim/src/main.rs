//! `nanokvm-sim`: serves a simulated NanoKVM until interrupted.
//!
//! A thin command line over the library: clap parses the flags into a
//! [`SimulatorBuilder`], the simulator runs until Ctrl-C (SIGINT) or SIGTERM (what
//! `kill`, systemd and container runtimes send), then shuts down: connections are
//! closed and a temporary data directory is removed. Exit codes: 0 after a clean stop
//! (or after `--help`, `--version` and `--completions`), 1 when the simulator cannot
//! start or stop cleanly, 2 for a bad command line.
// A command-line program reports on its terminal; that is its whole interface.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::builder::PossibleValuesParser;
use clap::{CommandFactory, Parser, ValueEnum};
use nanokvm_hid::Layout;
use nanokvm_sim::{
    BootDevice, FirmwareVersion, Hardware, MachineConfig, Simulator, SimulatorBuilder, TimeScale,
};

/// Serves a simulated Sipeed NanoKVM (its HTTP, WebSocket and MJPEG API) in front of a
/// virtual target machine, until interrupted. Prints the base URL on standard output.
#[derive(Debug, Parser)]
#[command(name = "nanokvm-sim", version)]
struct Args {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    listen: SocketAddr,

    /// The firmware version to play [default: 2.5.1, or 1.2.13 with `--hardware pro`].
    #[arg(long, value_name = "VERSION", value_parser = PossibleValuesParser::new(["2.5.1", "2.5.0", "2.3.1", "1.2.13"]))]
    firmware: Option<String>,

    /// The board to play; `pro` plays the NanoKVM Pro's own firmware.
    #[arg(long, value_name = "BOARD", value_parser = PossibleValuesParser::new(["alpha", "beta", "pcie", "pro"]))]
    hardware: Option<String>,

    /// The KVM's login user.
    #[arg(long, default_value = "admin", value_name = "NAME")]
    user: String,

    /// The KVM's login password.
    #[arg(
        long,
        default_value = "admin",
        value_name = "PASSWORD",
        env = "NANOKVM_SIM_PASSWORD",
        hide_env_values = true
    )]
    password: String,

    /// `authentication: disable`: every route is open.
    #[arg(long)]
    no_auth: bool,

    /// The directory playing the device's /data [default: a temporary one].
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,

    /// The target's screen resolution, WIDTHxHEIGHT.
    #[arg(long, default_value = "1920x1080", value_name = "WxH", value_parser = parse_resolution)]
    resolution: (u32, u32),

    /// Firmware delays multiplied by this (0.001 makes a boot take milliseconds).
    #[arg(long, default_value_t = 1.0, value_name = "FACTOR")]
    time_scale: f64,

    /// Plays the vendor's update server from this http:// base URL.
    #[arg(long, value_name = "URL")]
    update_server: Option<String>,

    /// The account that can log in on the target's console.
    #[arg(long, default_value = "user", value_name = "NAME")]
    target_user: String,

    /// That account's password.
    #[arg(
        long,
        default_value = "password",
        value_name = "PASSWORD",
        env = "NANOKVM_SIM_TARGET_PASSWORD",
        hide_env_values = true
    )]
    target_password: String,

    /// The target's keyboard layout, which decodes what is typed (`--layout` too).
    #[arg(long, alias = "layout", default_value = "us", value_name = "LAYOUT", value_parser = parse_layout)]
    target_layout: Layout,

    /// The target's host name.
    #[arg(long, default_value = "target", value_name = "NAME")]
    target_hostname: String,

    /// The target firmware's boot order, first device first.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "disk,cdrom,network",
        value_name = "DEVICES"
    )]
    boot_order: Vec<Boot>,

    /// How long an installation from a mounted CD-ROM takes, in seconds.
    #[arg(long, default_value_t = 60.0, value_name = "SECONDS")]
    install_seconds: f64,

    /// Start the target with an empty disk: it boots only an installer from a CD-ROM.
    #[arg(long, conflicts_with = "logged_in")]
    blank_disk: bool,

    /// Start the target logged in at a shell instead of at its login prompt.
    #[arg(long, conflicts_with = "powered_off")]
    logged_in: bool,

    /// Start the target powered off.
    #[arg(long)]
    powered_off: bool,

    /// Print a completion script for this shell and exit.
    #[arg(long, value_enum, value_name = "SHELL")]
    completions: Option<clap_complete::Shell>,
}

/// A boot device as the command line names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Boot {
    /// The target's disk.
    Disk,
    /// The KVM's virtual CD-ROM.
    Cdrom,
    /// PXE.
    Network,
}

impl From<Boot> for BootDevice {
    fn from(b: Boot) -> Self {
        match b {
            Boot::Disk => Self::HardDisk,
            Boot::Cdrom => Self::CdRom,
            Boot::Network => Self::Network,
        }
    }
}

fn parse_resolution(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("{s:?} is not WIDTHxHEIGHT"))?;
    let n = |v: &str| v.trim().parse::<u32>().map_err(|e| format!("{v:?}: {e}"));
    Ok((n(w)?, n(h)?))
}

fn parse_layout(s: &str) -> Result<Layout, String> {
    Layout::from_name(s).map_err(|e| e.to_string())
}

impl Args {
    fn builder(&self) -> Result<SimulatorBuilder, String> {
        if !(self.install_seconds.is_finite() && self.install_seconds >= 0.0) {
            return Err(format!(
                "--install-seconds {} is not a duration",
                self.install_seconds
            ));
        }
        let machine = MachineConfig::new()
            .user(&self.target_user)
            .password(&self.target_password)
            .hostname(&self.target_hostname)
            .layout(self.target_layout)
            .boot_order(self.boot_order.iter().copied().map(BootDevice::from))
            .install_time(Duration::from_secs_f64(self.install_seconds))
            .logged_in(self.logged_in)
            .blank_disk(self.blank_disk);
        let mut b = Simulator::builder()
            .listen(self.listen)
            .credentials(&self.user, &self.password)
            .authentication(!self.no_auth)
            .resolution(self.resolution.0, self.resolution.1)
            .time_scale(TimeScale::new(self.time_scale))
            .machine(machine)
            .powered_on(!self.powered_off);
        if let Some(f) = &self.firmware {
            b = b.firmware(f.parse::<FirmwareVersion>().map_err(|e| e.to_string())?);
        }
        if let Some(h) = &self.hardware {
            b = b.hardware(h.parse::<Hardware>().map_err(|e| e.to_string())?);
        }
        if let Some(dir) = &self.data_dir {
            b = b.data_dir(dir);
        }
        if let Some(url) = &self.update_server {
            b = b.update_server(url);
        }
        Ok(b)
    }
}

/// The error and its causes, joined.
fn chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        msg.push_str(&format!(": {s}"));
        source = s.source();
    }
    msg
}

/// The signals that stop the simulator, registered up front.
struct StopSignals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl StopSignals {
    fn listen() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                interrupt: signal(SignalKind::interrupt())?,
                terminate: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// Waits for the first stop signal and names it.
    async fn recv(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => "SIGINT",
                _ = self.terminate.recv() => "SIGTERM",
            }
        }
        #[cfg(not(unix))]
        {
            // Without a handler Ctrl-C would end the process; if the handler cannot be
            // installed, stopping now is the only clean choice.
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(shell) = args.completions {
        clap_complete::generate(
            shell,
            &mut Args::command(),
            "nanokvm-sim",
            &mut std::io::stdout(),
        );
        return ExitCode::SUCCESS;
    }
    let builder = match args.builder() {
        Ok(b) => b,
        Err(e) => {
            Args::command()
                .error(clap::error::ErrorKind::ValueValidation, e)
                .exit();
        }
    };
    // Listening for the signals before the URL is printed: whoever reads the URL may
    // signal at once, and a signal that arrives before its handler kills the process
    // without a clean shutdown.
    let mut stop = match StopSignals::listen() {
        Ok(stop) => stop,
        Err(e) => {
            eprintln!("nanokvm-sim: cannot listen for signals: {e}");
            return ExitCode::FAILURE;
        }
    };
    let sim = match builder.start().await {
        Ok(sim) => sim,
        Err(e) => {
            eprintln!("nanokvm-sim: {}", chain(&e));
            return ExitCode::FAILURE;
        }
    };
    println!("{}", sim.url());
    eprintln!(
        "nanokvm-sim: firmware {} on {} hardware, data directory {}; target login {}; Ctrl-C to stop",
        sim.firmware(),
        sim.hardware(),
        sim.data_dir().display(),
        args.target_user,
    );
    let signal = stop.recv().await;
    eprintln!("nanokvm-sim: {signal}, stopping");
    match sim.shutdown().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nanokvm-sim: {}", chain(&e));
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Args::command().debug_assert();
    }

    #[test]
    fn flags_build_the_simulator_they_name() {
        let args = Args::try_parse_from([
            "nanokvm-sim",
            "--hardware",
            "pro",
            "--layout",
            "de",
            "--boot-order",
            "cdrom,disk",
            "--resolution",
            "800x600",
        ])
        .unwrap();
        assert_eq!(args.target_layout, Layout::De);
        assert_eq!(args.boot_order, [Boot::Cdrom, Boot::Disk]);
        assert_eq!(args.resolution, (800, 600));
        assert!(args.builder().is_ok());
        let err = Args::try_parse_from(["nanokvm-sim", "--hardware", "gamma"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::InvalidValue);
        let err =
            Args::try_parse_from(["nanokvm-sim", "--logged-in", "--powered-off"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ArgumentConflict);
    }
}
