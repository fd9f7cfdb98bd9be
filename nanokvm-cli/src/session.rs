//! From the global options to a gate in front of one device: which device (`--sim`,
//! `--host`, or the config file's `--device`), its password (configured, or prompted
//! without echo on a terminal), the policy, the state directory, the CLI's own audit
//! log, and the approver.
//!
//! The CLI writes its own audit log, `audit-cli-DEVICE.jsonl` in the state directory,
//! never the one a running `nanokvm-mcp` holds: an audit log has one writer. Two `nanokvm`
//! processes on the same device take turns through a lock file beside the log
//! (`<log>.lock`). Counters (`counters.sqlite`) and approvals (`approvals.sqlite`) are
//! shared with the MCP server; SQLite lets both processes use them.

use std::fs::File;
use std::io::{IsTerminal as _, Read as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use nanokvm_client::SecretString;
use nanokvm_policy::devices::{
    DeviceConfig, DevicesConfig, GateSetup, PasswordSource, TlsConfig, default_config_path,
    default_state_dir, device_url,
};
use nanokvm_policy::gate::{ActionOutput, Approver, CallContext, Gate, ProgressSink, ScreenSize};
use nanokvm_policy::{Layout, Policy, SqliteStore, TargetOs};
use nanokvm_sim::Simulator;
use serde_json::Value;

use crate::approve::CliApprover;
use crate::cli::Global;
use crate::exit::UsageError;
use crate::output::Output;

/// The policy that applies when none is configured: everything allowed, and audited.
const ALLOW_ALL: &str = r#"{"version": "1", "default": "allow"}"#;

/// The image the embedded simulator holds, for trying `iso mount`.
pub const SIM_IMAGE: &str = "/data/demo.iso";

/// How long an action waits for approval when the options name no time.
const DEFAULT_APPROVAL_TIMEOUT: Duration = Duration::from_secs(120);

/// One device behind its gate, for the length of a command or script.
pub struct Session {
    gate: Gate<SqliteStore>,
    ctx: CallContext,
    approver: Arc<dyn Approver>,
    simulator: Option<Simulator>,
    _audit_lock: File,
    upload_dir: Option<PathBuf>,
    /// The device's name.
    pub device: String,
    /// The audit log this session writes.
    pub audit: PathBuf,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("device", &self.device)
            .field("audit", &self.audit)
            .finish_non_exhaustive()
    }
}

/// The config file the options name, or the default one.
#[must_use]
pub fn config_path(global: &Global) -> PathBuf {
    global.config.clone().unwrap_or_else(default_config_path)
}

/// The state directory the options name, or the default one.
#[must_use]
pub fn state_dir(global: &Global) -> PathBuf {
    global.state_dir.clone().unwrap_or_else(default_state_dir)
}

impl Session {
    /// Opens the device the options name.
    ///
    /// # Errors
    ///
    /// No device configured or an unknown one (usage errors that say how to configure
    /// one), an unreadable config or policy, an unwritable state directory, a simulator
    /// that does not start.
    pub async fn open(global: &Global, out: &Output) -> Result<Self> {
        let (mut device, simulator) = select_device(global, out).await?;
        if let Some(layout) = &global.target_layout {
            device.layout = Layout::from_name(layout)
                .map_err(|e| UsageError::new(format!("--target-layout: {e}")))?;
        }
        if let Some(os) = &global.target_os {
            device.target_os = os
                .parse::<TargetOs>()
                .map_err(|e| UsageError::new(format!("--target-os: {e}")))?;
        }
        device
            .download_hosts
            .extend(global.download_hosts.iter().cloned());
        if let Some(dir) = &global.upload_dir {
            device.upload_dir = Some(dir.clone());
        }
        if !global.verify_ssl {
            trust_presented_certificate(&mut device, out).await?;
        }
        let state_dir = state_dir(global);
        std::fs::create_dir_all(&state_dir).with_context(|| {
            format!("cannot create the state directory {}", state_dir.display())
        })?;
        let audit = global
            .audit
            .clone()
            .unwrap_or_else(|| state_dir.join(format!("audit-cli-{}.jsonl", device.name)));
        let audit_lock = lock_audit(&audit, out)?;
        let approval_timeout = global.approval_timeout.unwrap_or(DEFAULT_APPROVAL_TIMEOUT);
        let opened = GateSetup {
            device: &device,
            policy: global.policy.as_deref(),
            state_dir: &state_dir,
            audit: audit.clone(),
            screen: global
                .screen
                .map(|(width, height)| ScreenSize { width, height }),
            approval_timeout,
        }
        .open(client(&device)?)?;
        if opened.recommended {
            // No policy file anywhere: the operator at a shell is trusted with every
            // action, and the audit log still records each one.
            opened.gate.set_policy(Policy::from_json(ALLOW_ALL)?);
        }
        let approver = Arc::new(CliApprover::new(
            state_dir.join("approvals.sqlite"),
            out.clone(),
            global.approval_timeout.is_some(),
        ));
        let principal = global.grant.clone().unwrap_or_else(|| "cli".to_owned());
        Ok(Self {
            gate: opened.gate,
            ctx: CallContext::new(principal, format!("cli-{}", std::process::id())),
            approver,
            simulator,
            upload_dir: device.upload_dir.clone(),
            _audit_lock: audit_lock,
            device: device.name.clone(),
            audit,
        })
    }

    /// Runs one catalogue call through the gate, asking the operator when the policy
    /// wants approval.
    ///
    /// # Errors
    ///
    /// The gate's errors: invalid arguments, denied, device failures.
    pub async fn call(&self, tool: &str, args: &Value) -> Result<ActionOutput> {
        Ok(self
            .gate
            .call_approved_by(&self.ctx, tool, args, Arc::clone(&self.approver))
            .await?)
    }

    /// Like [`Session::call`], showing the call's progress on a terminal.
    ///
    /// # Errors
    ///
    /// As [`Session::call`].
    pub async fn call_with_progress(
        &self,
        tool: &str,
        args: &Value,
        out: &Output,
        label: &str,
    ) -> Result<ActionOutput> {
        let bar = out.spinner(label);
        let shown = bar.clone();
        let label = label.to_owned();
        let sink = ProgressSink::new(move |p| {
            if let Some(total) = p.total.filter(|t| *t > 0.0) {
                if shown.length() != Some(as_steps(total)) {
                    shown.set_length(as_steps(total));
                    shown.set_style(Output::bar_style());
                }
                shown.set_position(as_steps(p.done));
            }
            shown.set_message(if p.message.is_empty() {
                label.clone()
            } else {
                format!("{label}: {}", p.message)
            });
        });
        let ctx = self.ctx.clone().with_progress(sink);
        let result = self
            .gate
            .call_approved_by(&ctx, tool, args, Arc::clone(&self.approver))
            .await;
        bar.finish_and_clear();
        Ok(result?)
    }

    /// The upload path of `path` as `nanokvm_upload_iso` takes it: relative to the
    /// upload directory. A file named from the working directory that lies inside the
    /// upload directory is made relative to it; anything else is passed on as given,
    /// for the gate to judge.
    #[must_use]
    pub fn upload_path(&self, path: &Path) -> String {
        if let Some(dir) = &self.upload_dir
            && let (Ok(dir), Ok(file)) = (dir.canonicalize(), path.canonicalize())
            && let Ok(relative) = file.strip_prefix(&dir)
        {
            return relative.to_string_lossy().into_owned();
        }
        path.to_string_lossy().into_owned()
    }

    /// Stops the embedded simulator, if any.
    pub async fn close(self) {
        let Self {
            gate, simulator, ..
        } = self;
        // The gate's connections close first, so the simulator has none to wait for.
        drop(gate);
        if let Some(sim) = simulator {
            let _ = sim.shutdown().await;
        }
    }
}

/// Progress units as whole steps for a bar.
fn as_steps(units: f64) -> u64 {
    if units.is_finite() && units > 0.0 {
        // Progress counts characters, bytes or milliseconds: far below 2^53.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let steps = units.round() as u64;
        steps
    } else {
        0
    }
}

/// The device the options name, and the simulator started for `--sim`.
async fn select_device(global: &Global, out: &Output) -> Result<(DeviceConfig, Option<Simulator>)> {
    if global.sim {
        let layout = match &global.target_layout {
            Some(name) => Layout::from_name(name)
                .map_err(|e| UsageError::new(format!("--target-layout: {e}")))?,
            None => Layout::Us,
        };
        let sim = Simulator::builder()
            .layout(layout)
            .start()
            .await
            .context("cannot start the simulator")?;
        seed_simulator(&sim)?;
        let device = DeviceConfig {
            name: "sim".to_owned(),
            url: sim.url(),
            user: "admin".to_owned(),
            password: PasswordSource::Inline(SecretString::from("admin")),
            tls: None,
            layout,
            target_os: TargetOs::Windows,
            policy: None,
            download_hosts: Vec::new(),
            upload_dir: None,
        };
        return Ok((device, Some(sim)));
    }
    if let Some(host) = global.host.as_deref().filter(|h| !h.trim().is_empty())
        && global.device.is_none()
    {
        return Ok((host_device(global, host)?, None));
    }
    let path = config_path(global);
    if !path.exists() {
        return Err(UsageError::new(match (&global.device, &global.config) {
            (Some(name), _) => format!(
                "no config file at {} to find device `{name}` in: `nanokvm config init` \
                 writes one",
                path.display()
            ),
            (None, Some(_)) => format!("the config file {} does not exist", path.display()),
            (None, None) => format!(
                "no NanoKVM configured: pass --host (password in NANOKVM_PASS), write a \
                 config with `nanokvm config init` ({}), or try --sim",
                path.display()
            ),
        })
        .into());
    }
    let config = DevicesConfig::load(&path)?;
    let mut device = match &global.device {
        Some(name) => config
            .devices
            .iter()
            .find(|d| &d.name == name)
            .cloned()
            .ok_or_else(|| {
                let names: Vec<&str> = config.devices.iter().map(|d| d.name.as_str()).collect();
                UsageError::new(format!(
                    "no device `{name}` in {}; it has {}",
                    path.display(),
                    names.join(", ")
                ))
            })?,
        None => config.devices[0].clone(),
    };
    for warning in device.warnings() {
        out.warn(&warning);
    }
    // A password variable that is not set: ask on a terminal rather than fail.
    if let PasswordSource::Env(var) = &device.password
        && std::env::var_os(var).is_none()
        && interactive()
    {
        let prompt = format!("Password for {} ({var} is not set): ", device.name);
        device.password = PasswordSource::Inline(prompt_password(&prompt)?);
    }
    Ok((device, None))
}

/// A device from `--host` and its flags.
fn host_device(global: &Global, host: &str) -> Result<DeviceConfig> {
    let password = if let Some(file) = &global.password_file {
        PasswordSource::File(file.clone())
    } else if let Some(var) = &global.password_env {
        PasswordSource::Env(var.clone())
    } else if std::env::var_os("NANOKVM_PASS").is_some() {
        PasswordSource::Env("NANOKVM_PASS".to_owned())
    } else if interactive() {
        let prompt = format!("Password for {host}: ");
        PasswordSource::Inline(prompt_password(&prompt)?)
    } else {
        return Err(UsageError::new(format!(
            "no password for {host}: set NANOKVM_PASS, or pass --password-env VAR or \
             --password-file FILE"
        ))
        .into());
    };
    let tls = match (&global.tls_fingerprint, &global.ca_file) {
        (Some(fp), _) => Some(TlsConfig::Fingerprint(fp.clone())),
        (None, Some(ca)) => Some(TlsConfig::CaFile(ca.clone())),
        (None, None) => None,
    };
    Ok(DeviceConfig {
        name: "nanokvm".to_owned(),
        url: device_url(host, global.https),
        user: global.user.clone().unwrap_or_else(|| "admin".to_owned()),
        password,
        tls,
        layout: Layout::Us,
        target_os: TargetOs::Windows,
        policy: None,
        download_hosts: Vec::new(),
        upload_dir: None,
    })
}

/// The client for `device`; a configuration mistake is a usage error.
fn client(device: &DeviceConfig) -> Result<nanokvm_client::Client> {
    device
        .client()
        .map_err(|e| UsageError::new(nanokvm_policy::error_chain(&e)).into())
}

/// Puts an image on the embedded simulator, so that `iso mount` has something to mount.
fn seed_simulator(sim: &Simulator) -> Result<()> {
    let name = SIM_IMAGE.trim_start_matches("/data/");
    let path = sim.data_dir().join(name);
    std::fs::write(&path, b"a stand-in for an installer image\n")
        .with_context(|| format!("cannot write {}", path.display()))
}

/// `--verify-ssl false` (the Python server's `NANOKVM_VERIFY_SSL=false`): pins, for this
/// command only, the certificate an `https://` device presents now, and says which one,
/// so that the operator can check it and pin it for good. A device with a pin or a CA
/// already keeps it.
async fn trust_presented_certificate(device: &mut DeviceConfig, out: &Output) -> Result<()> {
    if !device.url.starts_with("https://") || device.tls.is_some() {
        return Ok(());
    }
    let fingerprint = nanokvm_client::fetch_fingerprint(&device.url, Duration::from_secs(10))
        .await
        .with_context(|| format!("cannot read the certificate of {}", device.url))?;
    out.warn(&format!(
        "certificate verification is off: trusting the certificate {} presents now, \
         sha256:{fingerprint}; check it against the device and pin it with \
         --tls-fingerprint sha256:{fingerprint} (or tls_fingerprint in the config)",
        device.url
    ));
    device.tls = Some(TlsConfig::Fingerprint(fingerprint.to_string()));
    Ok(())
}

/// Takes the audit log's lock file, waiting for another `nanokvm` that holds it.
fn lock_audit(audit: &Path, out: &Output) -> Result<File> {
    let mut name = audit.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    let path = audit.with_file_name(name);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open the lock file {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            out.note(&format!(
                "waiting for another nanokvm that writes {}",
                audit.display()
            ));
            file.lock()
                .with_context(|| format!("cannot lock {}", path.display()))?;
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("cannot lock {}", path.display()));
        }
    }
    Ok(file)
}

/// Whether a person can answer prompts: stdin and stderr are terminals.
#[must_use]
pub fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

fn prompt_password(prompt: &str) -> Result<SecretString> {
    let password = rpassword::prompt_password(prompt).context("cannot read the password")?;
    Ok(SecretString::from(password))
}

/// A secret to type: asked without echo on a terminal, else all of stdin (one final
/// line end removed).
///
/// # Errors
///
/// The terminal or stdin cannot be read.
pub fn read_secret(prompt: &str) -> Result<String> {
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password(prompt).context("cannot read the secret");
    }
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .context("cannot read the secret from stdin")?;
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    if text.contains('\n') {
        bail!("the secret on stdin has more than one line");
    }
    Ok(text)
}
