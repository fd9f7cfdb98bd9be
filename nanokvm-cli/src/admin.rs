//! The commands that need no device: `policy`, `audit`, `approvals`, `config`, `sim`
//! and `completions`.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::Path;

use anyhow::{Context as _, Result, bail};
use clap::{CommandFactory as _, Parser as _};
use nanokvm_policy::catalogue::{DeviceAction, tool_info};
use nanokvm_policy::devices::{DevicesConfig, PasswordSource, TlsConfig, audit_key_path};
use nanokvm_policy::gate::ApprovalQueue;
use nanokvm_policy::{
    AuditKey, AuditLog, Call, Engine, Layout, MemoryStore, Policy, PolicyFile, Timestamp,
};
use serde_json::{Value, json};

use crate::cli::{
    ApprovalsCommand, AuditCommand, Cli, Command, ConfigCommand, PolicyCommand, SimArgs,
};
use crate::exit::{Exit, UsageError};
use crate::output::{Output, Report};
use crate::session::{config_path, state_dir};

/// Runs a command that needs no device.
///
/// # Errors
///
/// The command's own.
pub fn run(cli: &Cli, out: &Output) -> Result<Exit> {
    match &cli.command {
        Command::Policy(p) => policy(p, out),
        Command::Audit(AuditCommand::Verify { log }) => audit_verify(log, out),
        Command::Approvals(a) => approvals(cli, a, out),
        Command::Config(c) => config(cli, c, out),
        Command::Sim(s) => sim(s, out),
        Command::Completions(c) => {
            let mut stdout = std::io::stdout().lock();
            clap_complete::generate(c.shell, &mut Cli::command(), "nanokvm", &mut stdout);
            Ok(Exit::Success)
        }
        other => bail!("`{other:?}` needs a device"),
    }
}

fn emit(out: &Output, report: &Report) -> Result<Exit> {
    out.emit(report).context("cannot write the result")?;
    Ok(Exit::Success)
}

// ---------------------------------------------------------------------------------------
// policy

fn policy(command: &PolicyCommand, out: &Output) -> Result<Exit> {
    match command {
        PolicyCommand::Check { file } => policy_check(file, out),
        PolicyCommand::Explain { file, tool, args } => {
            policy_explain(file, tool, args.as_deref(), out)
        }
        PolicyCommand::Replay { file, audit } => policy_replay(file, audit, out),
    }
}

fn load_policy(file: &Path) -> Result<Policy> {
    let loaded = PolicyFile::open(file)
        .with_context(|| format!("{} is not a valid policy", file.display()))?;
    Ok(loaded.current().as_ref().clone())
}

fn policy_check(file: &Path, out: &Output) -> Result<Exit> {
    match PolicyFile::open(file) {
        Ok(loaded) => {
            let policy = loaded.current();
            let named: Vec<&str> = policy.named_tools().collect();
            let unknown: Vec<&str> = named
                .iter()
                .copied()
                .filter(|t| tool_info(t).is_none())
                .collect();
            let hidden: Vec<&str> = nanokvm_policy::catalogue::TOOLS
                .iter()
                .map(|t| t.name)
                .filter(|t| policy.is_hidden(t))
                .collect();
            let json = json!({
                "valid": true,
                "file": file.display().to_string(),
                "hash": policy.hash_hex(),
                "default": format!("{:?}", policy.default_posture()).to_lowercase(),
                "mode": format!("{:?}", policy.mode()).to_lowercase(),
                "tools": named,
                "hidden": hidden,
                "not_in_catalogue": unknown,
            });
            let mut text = format!(
                "{} is valid: {} tools named, default {}, hash {}",
                file.display(),
                named.len(),
                json["default"].as_str().unwrap_or("?"),
                &policy.hash_hex()[..12]
            );
            if !unknown.is_empty() {
                text.push_str(&format!(
                    "\nnote: not device tools of this catalogue (fine for a gateway's \
                     upstream tools, else a typo): {}",
                    unknown.join(", ")
                ));
            }
            emit(out, &Report::new(json, text))
        }
        Err(e) => {
            let pointer = e.pointer().map(str::to_owned);
            let message = e.to_string();
            if out.is_json() {
                out.emit_json(&json!({
                    "valid": false,
                    "file": file.display().to_string(),
                    "pointer": pointer,
                    "error": message,
                }))?;
            }
            let mut text = format!("{}: {message}", file.display());
            if let Some(p) = pointer.filter(|p| !p.is_empty()) {
                text.push_str(&format!("\n  at JSON pointer {p}"));
            }
            out.error(&text, Exit::Failure.kind(), Exit::Failure.code());
            Ok(Exit::Failure)
        }
    }
}

/// A tool and its arguments from `policy explain`: a catalogue tool with JSON
/// arguments, or a command line (`"power long"`).
fn explained_call(tool: &str, args: Option<&str>) -> Result<(String, Value)> {
    if tool_info(tool).is_some() {
        let args: Value = match args {
            Some(text) => serde_json::from_str(text)
                .map_err(|e| UsageError::new(format!("ARGS is not JSON: {e}")))?,
            None => json!({}),
        };
        return Ok((tool.to_owned(), args));
    }
    let words = shlex::split(tool).unwrap_or_default();
    let parsed = Cli::try_parse_from(std::iter::once("nanokvm".to_owned()).chain(words));
    let call = parsed.ok().and_then(|cli| match &cli.command {
        Command::Type(t) => crate::actions::type_call(t, t.text.clone()).ok(),
        c => crate::actions::call_of(c),
    });
    match (call, args) {
        (Some(c), None) => Ok((c.tool.to_owned(), c.args)),
        (Some(_), Some(_)) => {
            Err(UsageError::new("give ARGS with a tool name, not with a command").into())
        }
        (None, _) => Err(UsageError::new(format!(
            "`{tool}` is neither a catalogue tool (nanokvm_power, ...) nor a device \
             command (\"power long\")"
        ))
        .into()),
    }
}

fn policy_explain(file: &Path, tool: &str, args: Option<&str>, out: &Output) -> Result<Exit> {
    let policy = load_policy(file)?;
    let (tool, args) = explained_call(tool, args)?;
    // Decide on what the gate would decide on: the canonical arguments, the risk class
    // and the keys a typing call sends (for a US Windows target).
    let action = DeviceAction::parse(&tool, &args, Layout::Us)?;
    let canonical = action.args();
    let keys = action.typed_keys(Layout::Us)?;
    let reports = keys
        .as_ref()
        .map(nanokvm_policy::catalogue::TypedKeys::reports);
    let engine = Engine::with_policy(policy, MemoryStore::new());
    let mut call = Call::new(&tool, &canonical)
        .principal("cli")
        .device("nanokvm")
        .risk(action.info().risk);
    if let Some(reports) = reports {
        call = call.keys(reports);
    }
    let now = Timestamp::from_system_time(std::time::SystemTime::now());
    let decision = engine.decide(&call, now);
    let mut json = decision.to_json();
    json["tool"] = json!(tool);
    json["args"] = nanokvm_policy::gate::masked_args(&tool, &canonical);
    let text = format!(
        "{tool} {}\n  verdict: {}\n  rule: {}\n  message: {}\n  (counters start at zero here; \
         limits already used on the device are not counted)",
        json["args"],
        decision.verdict.as_str(),
        decision.rule.as_deref().unwrap_or("-"),
        decision.message
    );
    emit(out, &Report::new(json, text))
}

fn policy_replay(file: &Path, audit: &Path, out: &Output) -> Result<Exit> {
    let policy = load_policy(file)?;
    let text = std::fs::read_to_string(audit)
        .with_context(|| format!("cannot read the audit log {}", audit.display()))?;
    let engine = Engine::with_policy(policy, MemoryStore::new());
    let (mut replayed, mut changed) = (0_u64, Vec::new());
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let record: Value = serde_json::from_str(line).with_context(|| {
            format!("{} line {} is not an audit record", audit.display(), i + 1)
        })?;
        let field = |name: &str| record.get(name).and_then(Value::as_str).unwrap_or_default();
        let was = field("verdict");
        // One record per call: its outcome, or the decision that refused it.
        let counts = match field("kind") {
            "outcome" => field("outcome") != "error",
            "decision" if was == "deny" => false,
            _ => continue,
        };
        let at = Timestamp::parse_rfc3339(field("at"))
            .with_context(|| format!("{} line {}", audit.display(), i + 1))?;
        let mut args = record.get("args").cloned().unwrap_or_else(|| json!({}));
        unredact(&mut args);
        let tool = field("tool");
        let mut call = Call::new(tool, &args)
            .principal(field("principal"))
            .session(field("session"))
            .device(field("device"));
        if let Some(info) = tool_info(tool) {
            call = call.risk(info.risk);
        }
        let mut decision = engine.decide(&call, at);
        if let Some(r) = decision.reservation.take() {
            let _ = if counts {
                engine.commit(r)
            } else {
                engine.rollback(r)
            };
        }
        replayed += 1;
        // A call that ran (or shadow-ran) was allowed; compare allowed with allowed.
        let was_allowed = matches!(was, "allow" | "shadow_deny");
        if was_allowed != decision.proceeds() {
            let mut entry = decision.to_json();
            entry["seq"] = record.get("seq").cloned().unwrap_or(Value::Null);
            entry["tool"] = json!(tool);
            entry["was"] = json!(was);
            entry["at"] = json!(field("at"));
            changed.push(entry);
        }
    }
    let json = json!({"replayed": replayed, "changed": changed});
    let mut text = format!(
        "{replayed} calls replayed; {} decided differently",
        changed.len()
    );
    for c in &changed {
        text.push_str(&format!(
            "\n  seq {} {} at {}: was {}, now {} ({})",
            c["seq"],
            c["tool"].as_str().unwrap_or("?"),
            c["at"].as_str().unwrap_or("?"),
            c["was"].as_str().unwrap_or("?"),
            c["verdict"].as_str().unwrap_or("?"),
            c["rule"].as_str().unwrap_or("-"),
        ));
    }
    emit(out, &Report::new(json, text))
}

/// Redacted typed text (`{"redacted": true, "chars": N, ...}`) becomes N replacement
/// characters: length limits still apply, patterns on the text cannot match.
fn unredact(value: &mut Value) {
    match value {
        Value::Object(map) if map.get("redacted") == Some(&Value::Bool(true)) => {
            let n = map.get("chars").and_then(Value::as_u64).unwrap_or(0);
            *value = Value::String("\u{FFFD}".repeat(usize::try_from(n).unwrap_or(0)));
        }
        Value::Object(map) => map.values_mut().for_each(unredact),
        Value::Array(items) => items.iter_mut().for_each(unredact),
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------
// audit

fn audit_verify(log: &Path, out: &Output) -> Result<Exit> {
    let key_path = audit_key_path(log);
    let report = if key_path.exists() {
        let key = AuditKey::load_or_create(&key_path)?;
        AuditLog::verify_with_key(log, &key)
    } else {
        nanokvm_policy::verify_dir_chain(log)
    }
    .with_context(|| format!("{} does not verify", log.display()))?;
    let json = json!({
        "valid": true,
        "records": report.records,
        "first_seq": report.first_seq,
        "last_seq": report.last_seq,
        "files": report.files,
        "last_hash": report.last_hash,
        "anchored_seq": report.anchored_seq,
        "keyed": key_path.exists(),
    });
    let text = format!(
        "{} verifies: {} records (seq {} to {}) in {} file(s){}",
        log.display(),
        report.records,
        report.first_seq,
        report.last_seq,
        report.files,
        match report.anchored_seq {
            Some(seq) => format!(", the keyed head vouches for seq {seq}"),
            None => ", chain only (no key beside the log)".to_owned(),
        }
    );
    emit(out, &Report::new(json, text))
}

// ---------------------------------------------------------------------------------------
// approvals

fn approvals(cli: &Cli, command: &ApprovalsCommand, out: &Output) -> Result<Exit> {
    let dir = state_dir(&cli.global);
    let path = dir.join("approvals.sqlite");
    if !path.exists() {
        if let ApprovalsCommand::List = command {
            return emit(
                out,
                &Report::new(
                    json!({"pending": []}),
                    "nothing waits for approval".to_owned(),
                ),
            );
        }
        bail!(
            "no approval queue in {}: nothing has asked for approval with this --state-dir",
            dir.display()
        );
    }
    let queue = ApprovalQueue::open(&path)?;
    match command {
        ApprovalsCommand::List => {
            let pending = queue.pending()?;
            let text = if pending.is_empty() {
                "nothing waits for approval".to_owned()
            } else {
                pending
                    .iter()
                    .map(|p| {
                        format!(
                            "{}  {} on {} by {}  {}\n    {}",
                            p.id, p.tool, p.device, p.principal, p.args, p.message
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            emit(out, &Report::new(json!({"pending": pending}), text))
        }
        ApprovalsCommand::Approve { id } => {
            queue.answer(id, true, None)?;
            emit(
                out,
                &Report::new(
                    json!({"id": id, "answer": "approve"}),
                    format!("approved {id}"),
                ),
            )
        }
        ApprovalsCommand::Deny { id, reason } => {
            queue.answer(id, false, reason.as_deref())?;
            emit(
                out,
                &Report::new(json!({"id": id, "answer": "deny"}), format!("denied {id}")),
            )
        }
    }
}

// ---------------------------------------------------------------------------------------
// config

fn config(cli: &Cli, command: &ConfigCommand, out: &Output) -> Result<Exit> {
    let path = config_path(&cli.global);
    match command {
        ConfigCommand::Path => emit(
            out,
            &Report::new(
                json!({"path": path.display().to_string(), "exists": path.exists()}),
                path.display().to_string(),
            ),
        ),
        ConfigCommand::Show => config_show(&path, cli, out),
        ConfigCommand::Init { name, url, force } => {
            config_init(&path, name.as_deref(), url.as_deref(), *force, out)
        }
    }
}

fn config_show(path: &Path, cli: &Cli, out: &Output) -> Result<Exit> {
    if !path.exists() {
        return Err(UsageError::new(format!(
            "no config file at {}: `nanokvm config init` writes one",
            path.display()
        ))
        .into());
    }
    let config = DevicesConfig::load(path)?;
    let mut devices = Vec::new();
    let mut text = format!("{}:", path.display());
    for d in &config.devices {
        let password = match &d.password {
            PasswordSource::Env(var) => format!("environment variable {var}"),
            PasswordSource::File(file) => format!("file {}", file.display()),
            PasswordSource::Inline(_) => "written in the config file".to_owned(),
        };
        let tls = match &d.tls {
            Some(TlsConfig::Fingerprint(f)) => Some(format!("pinned {f}")),
            Some(TlsConfig::CaFile(f)) => Some(format!("CA {}", f.display())),
            None => None,
        };
        let policy = d.policy.as_ref().or(cli.global.policy.as_ref());
        devices.push(json!({
            "name": d.name,
            "url": d.url,
            "user": d.user,
            "password": password,
            "tls": tls,
            "layout": d.layout.name(),
            "target_os": d.target_os.to_string(),
            "policy": policy.map(|p| p.display().to_string()),
            "download_hosts": d.download_hosts,
            "upload_dir": d.upload_dir.as_ref().map(|p| p.display().to_string()),
        }));
        text.push_str(&format!(
            "\n{}  {} as {} (password: {password}), layout {} on {}, policy: {}",
            d.name,
            d.url,
            d.user,
            d.layout.name(),
            d.target_os,
            policy.map_or_else(
                || "none (every action allowed, and audited)".to_owned(),
                |p| p.display().to_string()
            ),
        ));
    }
    emit(
        out,
        &Report::new(
            json!({"path": path.display().to_string(), "devices": devices}),
            text,
        ),
    )
}

/// Asks for a value on the terminal, with a default.
fn ask(question: &str, default: &str) -> Result<String> {
    let mut stderr = std::io::stderr().lock();
    write!(stderr, "{question} [{default}]: ")?;
    stderr.flush()?;
    drop(stderr);
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let line = line.trim();
    Ok(if line.is_empty() { default } else { line }.to_owned())
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn config_init(
    path: &Path,
    name: Option<&str>,
    url: Option<&str>,
    force: bool,
    out: &Output,
) -> Result<Exit> {
    if path.exists() && !force {
        return Err(
            UsageError::new(format!("{} exists; --force overwrites it", path.display())).into(),
        );
    }
    let terminal = std::io::stdin().is_terminal();
    let (name, url, user, password_env, layout, target_os) = if terminal {
        let name = ask("Device name", name.unwrap_or("kvm"))?;
        let url = ask(
            "Address (URL or host)",
            url.unwrap_or("http://192.168.1.50"),
        )?;
        let user = ask("User", "admin")?;
        let var = format!("NANOKVM_PASS_{}", name.to_uppercase().replace('-', "_"));
        let password_env = ask("Environment variable holding the password", &var)?;
        let layout = ask("The target's keyboard layout", "us")?;
        let target_os = ask("The target's operating system (windows, linux)", "windows")?;
        (name, url, user, password_env, layout, target_os)
    } else {
        let Some(url) = url else {
            return Err(UsageError::new(
                "no terminal to ask on: pass --url (and --name) to write a config",
            )
            .into());
        };
        let name = name.unwrap_or("kvm").to_owned();
        let var = format!("NANOKVM_PASS_{}", name.to_uppercase().replace('-', "_"));
        (
            name,
            url.to_owned(),
            "admin".to_owned(),
            var,
            "us".to_owned(),
            "windows".to_owned(),
        )
    };
    let url = nanokvm_policy::devices::device_url(&url, false);
    let text = format!(
        "# NanoKVM devices for `nanokvm` and `nanokvm-mcp --config`.\n\
         # Passwords stay out of this file: set {password_env} in the environment\n\
         # (or use password_file = \"...\").\n\n\
         [devices.{name}]\n\
         url = {}\n\
         user = {}\n\
         password_env = {}\n\
         layout = {}\n\
         target_os = {}\n\
         # policy = \"policy.json\"               # relative to this file\n\
         # tls_fingerprint = \"sha256:...\"       # for https with a self-signed certificate\n",
        toml_string(&url),
        toml_string(&user),
        toml_string(&password_env),
        toml_string(&layout),
        toml_string(&target_os),
        name = toml_string(&name),
    );
    // What is written must load.
    DevicesConfig::parse(&text, path).map_err(|e| UsageError::new(e.to_string()))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(path, &text).with_context(|| format!("cannot write {}", path.display()))?;
    out.note(&format!(
        "set {password_env} to the device's password before use"
    ));
    emit(
        out,
        &Report::new(
            json!({"path": path.display().to_string(), "device": name}),
            format!("wrote {}", path.display()),
        ),
    )
}

// ---------------------------------------------------------------------------------------
// sim

fn sim(args: &SimArgs, out: &Output) -> Result<Exit> {
    let firmware = args
        .firmware
        .parse::<nanokvm_sim::FirmwareVersion>()
        .map_err(|e| UsageError::new(format!("--firmware: {e}")))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(async {
        let sim = nanokvm_sim::Simulator::builder()
            .listen(args.listen)
            .firmware(firmware)
            .powered_on(!args.powered_off)
            .start()
            .await
            .context("cannot start the simulator")?;
        let url = sim.url();
        if out.is_json() {
            out.emit_json(&json!({"url": url, "firmware": sim.firmware().to_string(), "user": "admin", "password": "admin"}))?;
        } else {
            out.emit_text(&url)?;
        }
        out.note(&format!(
            "simulated NanoKVM, firmware {}, user admin, password admin; Ctrl-C stops it\n  \
             try: NANOKVM_PASS=admin nanokvm --host {url} info",
            sim.firmware()
        ));
        tokio::signal::ctrl_c()
            .await
            .context("cannot wait for Ctrl-C")?;
        sim.shutdown().await.context("the simulator failed")?;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(Exit::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_strings_are_escaped() {
        assert_eq!(toml_string("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
    }

    #[test]
    fn explain_takes_a_tool_or_a_command() {
        let (tool, args) = explained_call("power long", None).expect("command");
        assert_eq!(
            (tool.as_str(), args),
            ("nanokvm_power", json!({"action": "power_long"}))
        );
        let (tool, args) =
            explained_call("nanokvm_scroll", Some(r#"{"amount": 2}"#)).expect("tool");
        assert_eq!(
            (tool.as_str(), args),
            ("nanokvm_scroll", json!({"amount": 2}))
        );
        assert!(explained_call("fly away", None).is_err());
        assert!(explained_call("nanokvm_scroll", Some("{")).is_err());
    }

    #[test]
    fn redacted_text_replays_as_its_length() {
        let mut args = json!({"text": {"redacted": true, "chars": 3, "hmac": "ab"}, "n": 1});
        unredact(&mut args);
        assert_eq!(args, json!({"text": "\u{FFFD}\u{FFFD}\u{FFFD}", "n": 1}));
    }
}
