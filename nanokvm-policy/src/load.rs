//! The loader: a JSON value in, a [`Policy`] or the first mistake out.
//!
//! Validation walks the document by hand rather than through derived `Deserialize`
//! impls, so that every error carries the exact JSON Pointer of the offending value and
//! unknown fields are refused at every level. Nothing is defaulted silently except what
//! the language document defines (`mode: enforce`, `scope: grant`, `weight: calls`,
//! `commit_keys: ["enter"]`).

use std::collections::{BTreeSet, HashMap};

use nanokvm_hid::Keycode;
use regex::{Regex, RegexBuilder};
use serde_json::{Map, Value};

use crate::error::Error;
use crate::policy::{
    Action, Drift, Keystrokes, Limit, Mode, Op, Policy, Posture, Predicate, RiskClass, Scope,
    ToolRule, Weight, Window,
};

/// The most a compiled regex may take, so that a hostile document cannot exhaust memory.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

const TOP_FIELDS: &[&str] = &[
    "version",
    "default",
    "mode",
    "hide",
    "all_tools",
    "tools",
    "risk",
    "tool_risk",
    "drift",
    "keystrokes",
];
const TOOL_FIELDS: &[&str] = &[
    "action",
    "reason",
    "require",
    "deny_if",
    "approve_if",
    "limits",
    "rate_limit",
    "on_deny",
    "mode",
];
const LIMIT_FIELDS: &[&str] = &["counter", "window", "max", "scope", "weight"];
const PREDICATE_FIELDS: &[&str] = &["path", "op", "value"];

/// Escapes one reference token of a JSON Pointer (RFC 6901).
pub(crate) fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

fn child(pointer: &str, token: &str) -> String {
    format!("{pointer}/{}", escape(token))
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn wrong_type(pointer: &str, expected: &str, found: &Value) -> Error {
    Error::invalid(
        pointer,
        format!("expected {expected}, found {}", type_name(found)),
    )
}

fn object<'a>(
    value: &'a Value,
    pointer: &str,
    allowed: &[&str],
) -> Result<&'a Map<String, Value>, Error> {
    let map = value
        .as_object()
        .ok_or_else(|| wrong_type(pointer, "an object", value))?;
    for key in map.keys() {
        if !allowed.contains(&key.as_str()) {
            return Err(Error::invalid(
                &child(pointer, key),
                format!(
                    "unknown field `{key}` (expected one of: {})",
                    allowed.join(", ")
                ),
            ));
        }
    }
    Ok(map)
}

fn string<'a>(value: &'a Value, pointer: &str) -> Result<&'a str, Error> {
    value
        .as_str()
        .ok_or_else(|| wrong_type(pointer, "a string", value))
}

fn list<'a>(value: &'a Value, pointer: &str) -> Result<&'a [Value], Error> {
    value
        .as_array()
        .map(Vec::as_slice)
        .ok_or_else(|| wrong_type(pointer, "a list", value))
}

fn count(value: &Value, pointer: &str) -> Result<u64, Error> {
    value
        .as_u64()
        .ok_or_else(|| wrong_type(pointer, "a non-negative integer", value))
}

fn required<'a>(
    map: &'a Map<String, Value>,
    pointer: &str,
    field: &str,
) -> Result<&'a Value, Error> {
    map.get(field)
        .ok_or_else(|| Error::invalid(pointer, format!("missing required field `{field}`")))
}

fn mode(value: &Value, pointer: &str) -> Result<Mode, Error> {
    match string(value, pointer)? {
        "enforce" => Ok(Mode::Enforce),
        "shadow" => Ok(Mode::Shadow),
        other => Err(Error::invalid(
            pointer,
            format!("unknown mode `{other}` (expected enforce or shadow)"),
        )),
    }
}

/// Compiles a document regex: Rust syntax, unanchored, bounded in size.
pub(crate) fn regex(value: &Value, pointer: &str) -> Result<Regex, Error> {
    let source = string(value, pointer)?;
    RegexBuilder::new(source)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| {
            let detail = e.to_string();
            let last = detail.lines().last().unwrap_or_default().trim();
            let last = last.strip_prefix("error: ").unwrap_or(last);
            Error::invalid(pointer, format!("invalid regex `{source}`: {last}"))
        })
}

/// Compiles a glob (`*` any run, `?` one character) into a regex matching the whole value.
fn glob(value: &Value, pointer: &str) -> Result<Regex, Error> {
    let source = string(value, pointer)?;
    let mut pattern = String::from("^(?s:");
    for c in source.chars() {
        match c {
            '*' => pattern.push_str(".*"),
            '?' => pattern.push('.'),
            c => pattern.push_str(&regex::escape(c.encode_utf8(&mut [0; 4]))),
        }
    }
    pattern.push_str(")$");
    regex(&Value::String(pattern), pointer)
        .map_err(|_| Error::invalid(pointer, format!("glob `{source}` is too large")))
}

/// Splits `args.a.b` into `["a", "b"]`.
fn arg_path(value: &Value, pointer: &str) -> Result<Vec<String>, Error> {
    let text = string(value, pointer)?;
    let Some(rest) = text.strip_prefix("args.") else {
        return Err(Error::invalid(
            pointer,
            format!("path `{text}` must start with `args.` and name an argument"),
        ));
    };
    let segments: Vec<String> = rest.split('.').map(str::to_owned).collect();
    if segments.iter().any(String::is_empty) {
        return Err(Error::invalid(
            pointer,
            format!("path `{text}` has an empty segment"),
        ));
    }
    Ok(segments)
}

fn predicate(value: &Value, pointer: &str) -> Result<Predicate, Error> {
    let map = object(value, pointer, PREDICATE_FIELDS)?;
    let path_ptr = child(pointer, "path");
    let path_value = required(map, pointer, "path")?;
    let path = arg_path(path_value, &path_ptr)?;
    let op_ptr = child(pointer, "op");
    let op_name = string(required(map, pointer, "op")?, &op_ptr)?;
    let value_ptr = child(pointer, "value");
    let operand = required(map, pointer, "value")?;
    let number = |v: &Value| {
        v.as_f64()
            .filter(|_| v.is_number())
            .ok_or_else(|| wrong_type(&value_ptr, "a number", v))
    };
    let op = match op_name {
        "eq" => Op::Eq(operand.clone()),
        "neq" => Op::Neq(operand.clone()),
        "in" => Op::In(list(operand, &value_ptr)?.to_vec()),
        "not_in" => Op::NotIn(list(operand, &value_ptr)?.to_vec()),
        "lt" => Op::Lt(number(operand)?),
        "lte" => Op::Lte(number(operand)?),
        "gt" => Op::Gt(number(operand)?),
        "gte" => Op::Gte(number(operand)?),
        "regex" => Op::Regex(regex(operand, &value_ptr)?),
        "not_regex" => Op::NotRegex(regex(operand, &value_ptr)?),
        "contains" => Op::Contains(operand.clone()),
        "exists" => Op::Exists(
            operand
                .as_bool()
                .ok_or_else(|| wrong_type(&value_ptr, "true or false", operand))?,
        ),
        "glob" => Op::Glob(glob(operand, &value_ptr)?),
        "len_lte" => Op::LenLte(count(operand, &value_ptr)?),
        "len_gt" => Op::LenGt(count(operand, &value_ptr)?),
        other => {
            return Err(Error::invalid(
                &op_ptr,
                format!(
                    "unknown operator `{other}` (expected one of: eq, neq, in, not_in, lt, \
                     lte, gt, gte, regex, not_regex, contains, exists, glob, len_lte, len_gt)"
                ),
            ));
        }
    };
    Ok(Predicate {
        pointer: pointer.to_owned(),
        path_text: string(path_value, &path_ptr)?.to_owned(),
        path,
        op,
    })
}

fn predicates(value: &Value, pointer: &str) -> Result<Vec<Predicate>, Error> {
    list(value, pointer)?
        .iter()
        .enumerate()
        .map(|(i, p)| predicate(p, &child(pointer, &i.to_string())))
        .collect()
}

fn window(value: &Value, pointer: &str) -> Result<Window, Error> {
    let text = string(value, pointer)?;
    let fixed = match text {
        "second" => Some(1),
        "minute" => Some(60),
        "hour" => Some(3600),
        "day" => Some(86_400),
        _ => None,
    };
    if let Some(seconds) = fixed {
        return Ok(Window::Fixed(seconds));
    }
    let seconds = text
        .strip_prefix("sliding:")
        .and_then(|rest| rest.strip_suffix('s'))
        .filter(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|digits| digits.parse::<u64>().ok())
        .filter(|&s| s > 0 && s <= 366 * 86_400);
    seconds.map(Window::Sliding).ok_or_else(|| {
        Error::invalid(
            pointer,
            format!(
                "unknown window `{text}` (expected second, minute, hour, day or \
                 sliding:<N>s with N from 1 to 31622400)"
            ),
        )
    })
}

fn scope(value: &Value, pointer: &str) -> Result<Scope, Error> {
    match string(value, pointer)? {
        "grant" => Ok(Scope::Grant),
        "session" => Ok(Scope::Session),
        "principal" => Ok(Scope::Principal),
        "device" => Ok(Scope::Device),
        "global" => Ok(Scope::Global),
        other => Err(Error::invalid(
            pointer,
            format!(
                "unknown scope `{other}` (expected grant, session, principal, device or global)"
            ),
        )),
    }
}

fn weight(value: &Value, pointer: &str) -> Result<Weight, Error> {
    let text = string(value, pointer)?;
    if text == "calls" {
        return Ok(Weight::Calls);
    }
    if let Some(inner) = text.strip_prefix("len(").and_then(|t| t.strip_suffix(')')) {
        let path = arg_path(&Value::String(inner.to_owned()), pointer)?;
        return Ok(Weight::Len(path));
    }
    Err(Error::invalid(
        pointer,
        format!("unknown weight `{text}` (expected calls or len(args.<path>))"),
    ))
}

fn limit(value: &Value, pointer: &str) -> Result<Limit, Error> {
    let map = object(value, pointer, LIMIT_FIELDS)?;
    let counter_ptr = child(pointer, "counter");
    let counter = string(required(map, pointer, "counter")?, &counter_ptr)?;
    if counter.is_empty() {
        return Err(Error::invalid(&counter_ptr, "counter name is empty"));
    }
    Ok(Limit {
        pointer: pointer.to_owned(),
        counter: counter.to_owned(),
        window: window(required(map, pointer, "window")?, &child(pointer, "window"))?,
        max: count(required(map, pointer, "max")?, &child(pointer, "max"))?,
        scope: map
            .get("scope")
            .map(|v| scope(v, &child(pointer, "scope")))
            .transpose()?
            .unwrap_or(Scope::Grant),
        weight: map
            .get("weight")
            .map(|v| weight(v, &child(pointer, "weight")))
            .transpose()?
            .unwrap_or(Weight::Calls),
    })
}

fn limits(value: &Value, pointer: &str) -> Result<Vec<Limit>, Error> {
    list(value, pointer)?
        .iter()
        .enumerate()
        .map(|(i, l)| limit(l, &child(pointer, &i.to_string())))
        .collect()
}

/// `rate_limit: {max, window: N}`: one `grant` limit over fixed N-second windows.
fn rate_limit(value: &Value, pointer: &str) -> Result<Limit, Error> {
    let map = object(value, pointer, &["max", "window"])?;
    let window_ptr = child(pointer, "window");
    let seconds = count(required(map, pointer, "window")?, &window_ptr)?;
    if seconds == 0 || seconds > 366 * 86_400 {
        return Err(Error::invalid(
            &window_ptr,
            "window must be from 1 to 31622400 seconds",
        ));
    }
    Ok(Limit {
        pointer: pointer.to_owned(),
        counter: pointer.to_owned(),
        window: Window::Fixed(seconds),
        max: count(required(map, pointer, "max")?, &child(pointer, "max"))?,
        scope: Scope::Grant,
        weight: Weight::Calls,
    })
}

fn tool_rule(value: &Value, pointer: &str) -> Result<ToolRule, Error> {
    let map = object(value, pointer, TOOL_FIELDS)?;
    let field = |name: &str| map.get(name).map(|v| (v, child(pointer, name)));
    let action = match field("action") {
        None => Action::Allow,
        Some((v, p)) => match string(v, &p)? {
            "allow" => Action::Allow,
            "deny" => Action::Deny,
            "require_approval" | "approve" => Action::RequireApproval,
            other => {
                return Err(Error::invalid(
                    &p,
                    format!(
                        "unknown action `{other}` (expected allow, deny, require_approval or \
                         approve)"
                    ),
                ));
            }
        },
    };
    let reason = field("reason")
        .map(|(v, p)| string(v, &p).map(str::to_owned))
        .transpose()?;
    if reason.is_some() && action != Action::Deny {
        return Err(Error::invalid(
            &child(pointer, "reason"),
            "`reason` only applies to `action: deny`",
        ));
    }
    if action == Action::Deny {
        // Step 4 refuses every call, so these could never take effect; say so instead of
        // ignoring them.
        for dead in [
            "require",
            "deny_if",
            "approve_if",
            "limits",
            "rate_limit",
            "on_deny",
        ] {
            if map.contains_key(dead) {
                return Err(Error::invalid(
                    &child(pointer, dead),
                    format!("`{dead}` can never apply to a tool with `action: deny`"),
                ));
            }
        }
    }
    let preds = |name: &str| {
        field(name)
            .map(|(v, p)| predicates(v, &p))
            .transpose()
            .map(Option::unwrap_or_default)
    };
    let mut all_limits = field("limits")
        .map(|(v, p)| limits(v, &p))
        .transpose()?
        .unwrap_or_default();
    if let Some((v, p)) = field("rate_limit") {
        all_limits.push(rate_limit(v, &p)?);
    }
    Ok(ToolRule {
        pointer: pointer.to_owned(),
        action,
        reason,
        require: preds("require")?,
        deny_if: preds("deny_if")?,
        approve_if: preds("approve_if")?,
        limits: all_limits,
        on_deny: field("on_deny")
            .map(|(v, p)| string(v, &p).map(str::to_owned))
            .transpose()?,
        mode: field("mode").map(|(v, p)| mode(v, &p)).transpose()?,
    })
}

fn keystrokes(value: &Value, pointer: &str) -> Result<Keystrokes, Error> {
    let map = object(value, pointer, &["deny", "commit_keys"])?;
    let deny_ptr = child(pointer, "deny");
    let deny = list(required(map, pointer, "deny")?, &deny_ptr)?
        .iter()
        .enumerate()
        .map(|(i, r)| regex(r, &child(&deny_ptr, &i.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    let commit_keys = match map.get("commit_keys") {
        None => vec![Keycode::ENTER],
        Some(v) => {
            let keys_ptr = child(pointer, "commit_keys");
            let names = list(v, &keys_ptr)?;
            if names.is_empty() {
                return Err(Error::invalid(
                    &keys_ptr,
                    "at least one commit key is needed, or no line would ever be checked",
                ));
            }
            names
                .iter()
                .enumerate()
                .map(|(i, k)| {
                    let p = child(&keys_ptr, &i.to_string());
                    let name = string(k, &p)?;
                    Keycode::from_name(name).map_err(|e| Error::invalid(&p, e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?
        }
    };
    Ok(Keystrokes { deny, commit_keys })
}

/// Validates a whole document.
pub(crate) fn policy(value: &Value) -> Result<Policy, Error> {
    let map = object(value, "", TOP_FIELDS)?;
    let version = string(required(map, "", "version")?, "/version")
        .map_err(|_| Error::invalid("/version", "expected the string \"1\" (quote it in YAML)"))?;
    if version != "1" {
        return Err(Error::invalid(
            "/version",
            format!("unsupported version `{version}` (expected \"1\")"),
        ));
    }
    let default = match string(required(map, "", "default")?, "/default")? {
        "allow" => Posture::Allow,
        "deny" => Posture::Deny,
        other => {
            return Err(Error::invalid(
                "/default",
                format!("unknown default `{other}` (expected allow or deny)"),
            ));
        }
    };
    let doc_mode = map
        .get("mode")
        .map(|v| mode(v, "/mode"))
        .transpose()?
        .unwrap_or_default();
    let mut hide = BTreeSet::new();
    let mut hide_all = false;
    if let Some(v) = map.get("hide") {
        for (i, name) in list(v, "/hide")?.iter().enumerate() {
            let name = string(name, &format!("/hide/{i}"))?;
            if name == "*" {
                hide_all = true;
            } else {
                hide.insert(name.to_owned());
            }
        }
    }
    let all_tools = match map.get("all_tools") {
        None => Vec::new(),
        Some(v) => {
            let block = object(v, "/all_tools", &["limits"])?;
            block
                .get("limits")
                .map(|l| limits(l, "/all_tools/limits"))
                .transpose()?
                .unwrap_or_default()
        }
    };
    let mut tools = HashMap::new();
    if let Some(v) = map.get("tools") {
        let block = v
            .as_object()
            .ok_or_else(|| wrong_type("/tools", "an object", v))?;
        for (name, rule) in block {
            if name.is_empty() {
                return Err(Error::invalid("/tools/", "tool name is empty"));
            }
            let pointer = child("/tools", name);
            tools.insert(name.clone(), tool_rule(rule, &pointer)?);
        }
    }
    let mut risk: [Option<ToolRule>; 3] = [None, None, None];
    if let Some(v) = map.get("risk") {
        let block = object(v, "/risk", &["low", "medium", "high"])?;
        for (name, rule) in block {
            let class: RiskClass = name.parse()?;
            risk[class as usize] = Some(tool_rule(rule, &child("/risk", name))?);
        }
    }
    let mut tool_risk = HashMap::new();
    if let Some(v) = map.get("tool_risk") {
        let block = v
            .as_object()
            .ok_or_else(|| wrong_type("/tool_risk", "an object", v))?;
        for (name, class) in block {
            let pointer = child("/tool_risk", name);
            if name.is_empty() {
                return Err(Error::invalid("/tool_risk/", "tool name is empty"));
            }
            let class = string(class, &pointer)?
                .parse::<RiskClass>()
                .map_err(|e| e.at(&pointer))?;
            tool_risk.insert(name.clone(), class);
        }
    }
    let drift = match map.get("drift") {
        None => Drift::default(),
        Some(v) => {
            let name = string(v, "/drift")?;
            name.parse::<Drift>().map_err(|e| e.at("/drift"))?
        }
    };
    let keystrokes = map
        .get("keystrokes")
        .map(|v| keystrokes(v, "/keystrokes"))
        .transpose()?;
    Ok(Policy {
        default,
        mode: doc_mode,
        hide_all,
        hide,
        all_tools,
        tools,
        risk,
        tool_risk,
        drift,
        keystrokes,
        hash: crate::strict::canonical_hash(value),
    })
}
