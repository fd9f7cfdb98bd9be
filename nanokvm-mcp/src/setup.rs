//! From the command line and the environment to devices behind gates.
//!
//! The environment variables are those of the Python NanoKVM MCP server
//! (`NANOKVM_HOST`, `NANOKVM_USER`, `NANOKVM_PASS`, `NANOKVM_HTTPS`), so its users'
//! client configurations keep working. `--config FILE` serves several devices from the
//! device configuration file both frontends read ([`DevicesConfig`]); each device may
//! name its own policy. The state directory holds the counters (`counters.sqlite`,
//! keyed by device) and the audit log (`audit.jsonl` with its key `audit.jsonl.key`, or
//! `--audit`; one `audit-NAME.jsonl` per device with `--config`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use clap::Args;
use nanokvm_client::SecretString;
pub use nanokvm_policy::devices::default_state_dir;
use nanokvm_policy::devices::{
    DeviceConfig, DevicesConfig, GateSetup, PasswordSource, TlsConfig, device_url,
};
use nanokvm_policy::gate::{ApprovalQueue, ScreenSize};
use nanokvm_policy::{Layout, TargetOs};
use nanokvm_sim::{Simulator, SimulatorBuilder};

use crate::server::Device;

/// Where the device is and how to reach it.
#[derive(Args, Clone, Debug)]
pub struct DeviceArgs {
    /// The NanoKVM: a host, host:port or URL (`192.168.1.50`, `http://kvm.lan:8080`).
    #[arg(long, env = "NANOKVM_HOST")]
    pub host: Option<String>,
    /// The NanoKVM account.
    #[arg(long, env = "NANOKVM_USER", default_value = "admin")]
    pub user: String,
    /// The account's password (better in the environment than on the command line).
    #[arg(long, env = "NANOKVM_PASS", hide_env_values = true)]
    pub password: Option<String>,
    /// Use HTTPS when the host has no scheme.
    #[arg(long, env = "NANOKVM_HTTPS")]
    pub https: bool,
    /// Pin the device's TLS certificate by its SHA-256 fingerprint (`sha256:...`).
    #[arg(long, env = "NANOKVM_TLS_FINGERPRINT")]
    pub tls_fingerprint: Option<String>,
    /// `false` (`NANOKVM_VERIFY_SSL=false`, as for the Python server) trusts the
    /// certificate the device presents when the server starts, without a CA: its
    /// fingerprint is printed and pinned for the session. Pin it for good with
    /// --tls-fingerprint.
    #[arg(
        long,
        env = "NANOKVM_VERIFY_SSL",
        default_value_t = true,
        action = clap::ArgAction::Set,
        value_parser = clap::builder::BoolishValueParser::new(),
        value_name = "BOOL"
    )]
    pub verify_ssl: bool,
    /// The keyboard layout of the target machine (`us`, `de`, `fr`, ... 19 in all).
    #[arg(long, env = "NANOKVM_LAYOUT", default_value = "us")]
    pub layout: String,
    /// The target machine's operating system, which decides what its layout types:
    /// `windows` or `linux` (XKB).
    #[arg(long, env = "NANOKVM_TARGET_OS", default_value = "windows")]
    pub target_os: String,
    /// The screen width pointer pixels refer to before the agent took a screenshot.
    #[arg(long, env = "NANOKVM_SCREEN_WIDTH", requires = "screen_height")]
    pub screen_width: Option<u32>,
    /// The screen height pointer pixels refer to before the agent took a screenshot.
    #[arg(long, env = "NANOKVM_SCREEN_HEIGHT", requires = "screen_width")]
    pub screen_height: Option<u32>,
    /// The device's name in counters, audit records and the `device` argument.
    #[arg(long, default_value = "nanokvm")]
    pub name: String,
    /// Start a simulated NanoKVM and serve it: the way to try the server without a
    /// device.
    #[arg(long, conflicts_with = "host")]
    pub sim: bool,
    /// A device configuration file (TOML, `[devices.NAME]` tables) with one or more
    /// NanoKVMs, the same file the `nanokvm` CLI reads.
    #[arg(long, env = "NANOKVM_CONFIG", conflicts_with_all = ["host", "sim"])]
    pub config: Option<PathBuf>,
    /// A host the device may download images from (repeat it, or separate hosts with
    /// commas; `*.example.org` covers a domain and its subdomains). Without one,
    /// `nanokvm_download_iso` refuses every URL.
    #[arg(
        long = "download-host",
        env = "NANOKVM_DOWNLOAD_HOSTS",
        value_delimiter = ','
    )]
    pub download_hosts: Vec<String>,
    /// The directory `nanokvm_upload_iso` may upload images from. Without it, uploads
    /// are refused.
    #[arg(long, env = "NANOKVM_UPLOAD_DIR")]
    pub upload_dir: Option<PathBuf>,
    /// The simulated screen's size with `--sim` (`1280x720`; default 1920x1080).
    #[arg(long, requires = "sim", value_parser = parse_size)]
    pub sim_resolution: Option<(u32, u32)>,
}

/// `WIDTHxHEIGHT`.
fn parse_size(text: &str) -> Result<(u32, u32), String> {
    let (w, h) = text
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("`{text}` is not WIDTHxHEIGHT, such as 1280x720"))?;
    let side = |n: &str| {
        n.trim()
            .parse::<u32>()
            .ok()
            .filter(|&n| (16..=7680).contains(&n))
            .ok_or_else(|| format!("`{n}` is not a side from 16 to 7680 pixels"))
    };
    Ok((side(w)?, side(h)?))
}

/// The policy and where state lives.
#[derive(Args, Clone, Debug)]
pub struct PolicyArgs {
    /// The policy file (JSON, or YAML for .yaml/.yml), reloaded when it changes. Without
    /// it the shipped recommended policy applies.
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// The audit log (default: audit.jsonl in the state directory).
    #[arg(long)]
    pub audit: Option<PathBuf>,
    /// Where counters, the audit log and its key live (default: nanokvm under the
    /// user's data directory).
    #[arg(long, env = "NANOKVM_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// How long a call that needs a human's approval waits for one, in seconds (through
    /// the client's elicitation, or `nanokvm-mcp approvals approve ID`).
    #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub approval_timeout: u64,
}

/// What `setup` built: the devices, and a simulator to keep alive while serving.
pub struct Setup {
    /// The devices, behind their gates.
    pub devices: Vec<Device>,
    /// The queue operators answer approvals in (`approvals.sqlite` in the state
    /// directory).
    pub approvals: Arc<ApprovalQueue>,
    /// The embedded simulator, when `--sim` asked for one.
    pub simulator: Option<Simulator>,
    /// Where state lives.
    pub state_dir: PathBuf,
}

/// Builds the devices the server serves.
///
/// # Errors
///
/// No device configured (the message says how to configure one), an unknown layout, a
/// policy that does not load, or a state directory that cannot be written.
pub async fn setup(device: &DeviceArgs, policy: &PolicyArgs) -> Result<Setup> {
    setup_with(device, policy, None).await
}

/// [`setup`], with the simulator `--sim` starts built by `simulator` (for tests that
/// run it on a faster clock).
///
/// # Errors
///
/// As [`setup`].
pub async fn setup_with(
    device: &DeviceArgs,
    policy: &PolicyArgs,
    simulator: Option<SimulatorBuilder>,
) -> Result<Setup> {
    let state_dir = policy.state_dir.clone().unwrap_or_else(default_state_dir);
    std::fs::create_dir_all(&state_dir)
        .with_context(|| format!("cannot create the state directory {}", state_dir.display()))?;
    let approvals = Arc::new(
        ApprovalQueue::open(state_dir.join("approvals.sqlite"))
            .context("cannot open the approval queue")?,
    );
    let approval_timeout = Duration::from_secs(policy.approval_timeout);
    let screen = match (device.screen_width, device.screen_height) {
        (Some(width), Some(height)) if width > 0 && height > 0 => {
            Some(ScreenSize { width, height })
        }
        (Some(width), Some(height)) => bail!("the screen size {width}x{height} has no pixels"),
        _ => None,
    };
    let open = |config: &DeviceConfig, audit: PathBuf| -> Result<Device> {
        let opened = GateSetup {
            device: config,
            policy: policy.policy.as_deref(),
            state_dir: &state_dir,
            audit,
            screen,
            approval_timeout,
        }
        .open(config.client()?)?;
        if opened.recommended {
            tracing::warn!(
                device = config.name,
                "no policy given: the shipped recommended policy applies (reads freely, \
                 limits typing and clicks, asks before forced power-off, refuses \
                 destructive shell commands)"
            );
        }
        Ok(Device {
            name: config.name.clone(),
            gate: opened.gate,
        })
    };
    if let Some(path) = &device.config {
        let config = DevicesConfig::load(path)?;
        let mut devices = Vec::new();
        for d in &config.devices {
            for warning in d.warnings() {
                tracing::warn!("{warning}");
            }
            devices.push(open(d, state_dir.join(format!("audit-{}.jsonl", d.name)))?);
        }
        return Ok(Setup {
            devices,
            approvals,
            simulator: None,
            state_dir,
        });
    }
    let layout = Layout::from_name(&device.layout).context("--layout")?;
    let target_os = device
        .target_os
        .parse::<TargetOs>()
        .context("--target-os")?;
    let (url, user, password, simulator) = if device.sim {
        let mut sim = simulator.unwrap_or_else(Simulator::builder);
        if let Some((width, height)) = device.sim_resolution {
            sim = sim.resolution(width, height);
        }
        let sim = sim
            .layout(layout)
            .start()
            .await
            .context("cannot start the simulator")?;
        tracing::info!(url = %sim.url(), "serving a simulated NanoKVM");
        (
            sim.url().to_owned(),
            "admin".to_owned(),
            "admin".to_owned(),
            Some(sim),
        )
    } else {
        let Some(host) = device.host.as_deref().filter(|h| !h.trim().is_empty()) else {
            bail!(
                "no NanoKVM is configured: set NANOKVM_HOST (and NANOKVM_USER, NANOKVM_PASS), \
                 pass --host, or --config FILE with [devices.NAME] tables; or try the server \
                 against a simulated device with --sim"
            );
        };
        let Some(password) = device.password.clone() else {
            bail!("no password for {host}: set NANOKVM_PASS");
        };
        (
            device_url(host, device.https),
            device.user.clone(),
            password,
            None,
        )
    };
    let mut tls_fingerprint = device.tls_fingerprint.clone();
    if !device.verify_ssl && tls_fingerprint.is_none() && url.starts_with("https://") {
        let fingerprint = nanokvm_client::fetch_fingerprint(&url, Duration::from_secs(10))
            .await
            .with_context(|| format!("cannot read the certificate of {url}"))?;
        tracing::warn!(
            %fingerprint,
            "NANOKVM_VERIFY_SSL=false: trusting the certificate {url} presents now, for this \
             session; check the fingerprint against the device and pin it with \
             NANOKVM_TLS_FINGERPRINT"
        );
        tls_fingerprint = Some(fingerprint.to_string());
    }
    let config = DeviceConfig {
        name: device.name.clone(),
        url,
        user,
        password: PasswordSource::Inline(SecretString::from(password)),
        tls: tls_fingerprint.map(TlsConfig::Fingerprint),
        layout,
        target_os,
        policy: None,
        download_hosts: device.download_hosts.clone(),
        upload_dir: device.upload_dir.clone(),
    };
    let audit = policy
        .audit
        .clone()
        .unwrap_or_else(|| state_dir.join("audit.jsonl"));
    Ok(Setup {
        devices: vec![open(&config, audit)?],
        approvals,
        simulator,
        state_dir,
    })
}

/// Where the gateway keeps its limit counters, and how it syncs its audit log.
#[derive(Args, Clone, Debug)]
pub struct CountersArgs {
    /// Keep the limit counters in Redis (`redis://[:PASSWORD@]HOST[:PORT][/DB]`), shared
    /// with every gateway pointed at the same Redis and prefix, instead of in
    /// counters.sqlite in the state directory. If Redis cannot answer, calls with limits
    /// are denied. `memory` keeps them in this process only: fastest, but a restart
    /// forgets them and no other gateway shares them.
    #[arg(
        long,
        value_name = "URL",
        env = "NANOKVM_COUNTERS",
        hide_env_values = true
    )]
    pub counters: Option<String>,
    /// The prefix of the gateway's keys in Redis: gateways share counters only when they
    /// use the same one.
    #[arg(long, value_name = "PREFIX", default_value = nanokvm_policy::RedisStore::DEFAULT_PREFIX)]
    pub counters_prefix: String,
    /// Sync the audit log every this many milliseconds instead of at every record
    /// (group commit): each record is still written before the call goes on, so a crash
    /// of the gateway loses nothing, but a crash of the machine can lose the last
    /// interval's records. Takes the disk's sync out of every call's path.
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub audit_sync_ms: Option<u64>,
}

impl Default for CountersArgs {
    /// Counters in the state directory.
    fn default() -> Self {
        Self {
            counters: None,
            counters_prefix: nanokvm_policy::RedisStore::DEFAULT_PREFIX.to_owned(),
            audit_sync_ms: None,
        }
    }
}

/// The counter store of a gateway: SQLite in the state directory, Redis, or memory.
pub type GatewayStore = Box<dyn nanokvm_policy::CounterStore>;

/// What [`gateway_setup`] built: a gate without a device, and where state lives.
pub struct GatewaySetup {
    /// The gate deciding the upstream's calls (counters, audit log, policy file).
    pub gate: nanokvm_policy::gate::Gate<GatewayStore>,
    /// The queue operators answer approvals in (`approvals.sqlite`).
    pub approvals: Arc<ApprovalQueue>,
    /// Where state lives.
    pub state_dir: PathBuf,
    /// How often the owner must sync the audit log ([`nanokvm_policy::gate::Gate::sync_audit`]),
    /// when it is written with group commit (`--audit-sync-ms`).
    pub audit_sync: Option<Duration>,
}

/// The gate of `nanokvm-mcp gateway`: the policy file (required: there is no
/// recommended policy for a server nobody here knows), the counters (the state
/// directory's SQLite file, or Redis when `counters` names one), the approval queue of
/// the state directory, and the audit log (`audit-gateway-NAME.jsonl` there, or
/// `--audit`). `name` is the upstream's name in counters, approvals and the audit log.
///
/// # Errors
///
/// No policy given, a policy that does not load, or state that cannot be opened (a
/// Redis that does not answer included).
pub fn gateway_setup(
    policy: &PolicyArgs,
    counters: &CountersArgs,
    name: &str,
) -> Result<GatewaySetup> {
    use nanokvm_policy::{AuditKey, AuditLog};
    let Some(path) = policy.policy.as_deref() else {
        bail!(
            "the gateway needs a policy: pass --policy FILE (for example one with \
             \"default\": \"allow\" and the tools to limit under \"tools\")"
        );
    };
    let state_dir = policy.state_dir.clone().unwrap_or_else(default_state_dir);
    std::fs::create_dir_all(&state_dir)
        .with_context(|| format!("cannot create the state directory {}", state_dir.display()))?;
    let approvals = Arc::new(
        ApprovalQueue::open(state_dir.join("approvals.sqlite"))
            .context("cannot open the approval queue")?,
    );
    let store: GatewayStore = match &counters.counters {
        Some(memory) if memory == "memory" => {
            tracing::info!("counters in memory: a restart forgets them");
            Box::new(nanokvm_policy::MemoryStore::new())
        }
        Some(url) => {
            let store = nanokvm_policy::RedisStore::builder(url.as_str())
                .prefix(counters.counters_prefix.as_str())
                .open()
                .context("cannot open the counters (--counters)")?;
            tracing::info!(counters = %store.url(), prefix = %store.prefix(), "counters in Redis");
            Box::new(store)
        }
        None => Box::new(nanokvm_policy::SqliteStore::open(
            state_dir.join("counters.sqlite"),
        )?),
    };
    let audit_path = policy
        .audit
        .clone()
        .unwrap_or_else(|| state_dir.join(format!("audit-gateway-{name}.jsonl")));
    let key = AuditKey::load_or_create(nanokvm_policy::devices::audit_key_path(&audit_path))?;
    let mut audit = AuditLog::open(&audit_path, key)?;
    let audit_sync = counters.audit_sync_ms.map(Duration::from_millis);
    if audit_sync.is_some() {
        audit = audit.batched();
    }
    let file = nanokvm_policy::PolicyFile::open(path)?;
    let gate = nanokvm_policy::gate::Gate::without_device(store)
        .device(name)
        .audit(audit)
        .approval_timeout(Duration::from_secs(policy.approval_timeout))
        .policy_file(file, Duration::from_secs(2))
        .build();
    Ok(GatewaySetup {
        gate,
        approvals,
        state_dir,
        audit_sync,
    })
}
