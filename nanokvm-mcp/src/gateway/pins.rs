//! Tool-definition pinning: a guard against an upstream that changes what a tool does
//! after it was trusted (a "rug pull").
//!
//! The first time the gateway sees an upstream (per state directory and
//! [`Upstream::key`](super::Upstream::key)), it records the SHA-256 of each tool's
//! canonical definition: name, description, input and output schema and annotations,
//! as JSON with sorted keys and no insignificant space. From then on a tool whose
//! definition hashes differently, or a tool that was not there at first sight, has
//! drifted, until an operator accepts it (`nanokvm-mcp gateway pins accept`). A tool
//! that went away is no drift: it cannot be called.
//!
//! The pins live in `pins.json` in the state directory, one object per upstream, each
//! holding the pinned definitions themselves so that `pins diff` can show what changed.
//! The file is replaced whole (written aside, then renamed).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use rmcp::model::Tool;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

/// What drift does to a call of the drifted tool: the policy's `drift` field.
pub use nanokvm_policy::Drift as OnDrift;

/// How one tool stands against its pin.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "drift")]
pub enum Drift {
    /// The definition differs from the pinned one.
    Changed {
        /// The pinned digest.
        pinned: String,
        /// The digest now.
        now: String,
    },
    /// The tool was not there when the upstream was pinned.
    New {
        /// The digest now.
        now: String,
    },
}

/// The pinned tools of one upstream.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct UpstreamPins {
    /// By tool name: the SHA-256 (hex) of the canonical definition.
    pub tools: BTreeMap<String, String>,
    /// By tool name: the canonical definition that was pinned.
    pub definitions: BTreeMap<String, Value>,
}

/// The pin file of a state directory.
#[derive(Debug)]
pub struct PinFile {
    path: PathBuf,
}

impl PinFile {
    /// The pins kept in `dir` (`pins.json`).
    #[must_use]
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            path: dir.join("pins.json"),
        }
    }

    /// The file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every upstream's pins (none when the file does not exist yet).
    ///
    /// # Errors
    ///
    /// A file that cannot be read or is not a pin file.
    pub fn load(&self) -> Result<BTreeMap<String, UpstreamPins>> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .with_context(|| format!("{} is not a pin file", self.path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", self.path.display())),
        }
    }

    /// The pins of `upstream`, if it was ever seen.
    ///
    /// # Errors
    ///
    /// As [`PinFile::load`].
    pub fn of(&self, upstream: &str) -> Result<Option<UpstreamPins>> {
        Ok(self.load()?.remove(upstream))
    }

    /// Replaces the pins of `upstream`.
    ///
    /// # Errors
    ///
    /// The file cannot be read or written.
    pub fn store(&self, upstream: &str, pins: UpstreamPins) -> Result<()> {
        let mut all = self.load()?;
        all.insert(upstream.to_owned(), pins);
        let text = serde_json::to_string_pretty(&all)?;
        let aside = self.path.with_extension("json.tmp");
        std::fs::write(&aside, text)
            .with_context(|| format!("cannot write {}", aside.display()))?;
        std::fs::rename(&aside, &self.path)
            .with_context(|| format!("cannot replace {}", self.path.display()))
    }
}

impl UpstreamPins {
    /// Pins every tool of `tools`.
    #[must_use]
    pub fn of_tools(tools: &[Tool]) -> Self {
        let mut pins = Self::default();
        for tool in tools {
            pins.accept(tool);
        }
        pins
    }

    /// Pins `tool` as it is now.
    pub fn accept(&mut self, tool: &Tool) {
        let definition = canonical(tool);
        self.tools
            .insert(tool.name.to_string(), digest_of(&definition));
        self.definitions.insert(tool.name.to_string(), definition);
    }

    /// How `tool` stands against its pin; `None` when it matches.
    #[must_use]
    pub fn drift(&self, tool: &Tool) -> Option<Drift> {
        let now = digest(tool);
        match self.tools.get(tool.name.as_ref()) {
            Some(pinned) if *pinned == now => None,
            Some(pinned) => Some(Drift::Changed {
                pinned: pinned.clone(),
                now,
            }),
            None => Some(Drift::New { now }),
        }
    }
}

/// A tool's canonical definition: the fields that say what it does, keys sorted.
#[must_use]
pub fn canonical(tool: &Tool) -> Value {
    let json = serde_json::to_value(tool).unwrap_or(Value::Null);
    let mut kept = serde_json::Map::new();
    for key in [
        "name",
        "description",
        "inputSchema",
        "outputSchema",
        "annotations",
    ] {
        if let Some(v) = json.get(key) {
            kept.insert(key.to_owned(), sorted(v));
        }
    }
    Value::Object(kept)
}

/// The SHA-256 (hex) of a tool's canonical definition.
#[must_use]
pub fn digest(tool: &Tool) -> String {
    digest_of(&canonical(tool))
}

fn digest_of(definition: &Value) -> String {
    use std::fmt::Write as _;
    let text = to_sorted_string(definition);
    Sha256::digest(text.as_bytes())
        .iter()
        .fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(map) => {
            let ordered: BTreeMap<&String, Value> =
                map.iter().map(|(k, v)| (k, sorted(v))).collect();
            Value::Object(ordered.into_iter().map(|(k, v)| (k.clone(), v)).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// JSON with object keys in sorted order, whatever map serde_json was built with.
fn to_sorted_string(v: &Value) -> String {
    match v {
        Value::Object(map) => {
            let ordered: BTreeMap<&String, &Value> = map.iter().collect();
            let parts: Vec<String> = ordered
                .into_iter()
                .map(|(k, v)| format!("{}:{}", Value::String(k.clone()), to_sorted_string(v)))
                .collect();
            format!("{{{}}}", parts.join(","))
        }
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(to_sorted_string).collect();
            format!("[{}]", parts.join(","))
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tool(description: &str) -> Tool {
        let schema = json!({"type": "object", "properties": {"b": {"type": "string"}, "a": {"type": "number"}}});
        let Value::Object(schema) = schema else {
            unreachable!()
        };
        Tool::new("t", description.to_owned(), schema)
    }

    #[test]
    fn digests_ignore_key_order_and_see_every_change() {
        let a = tool("does a thing");
        let mut reordered = serde_json::to_value(&a).expect("json");
        let props = reordered["inputSchema"]["properties"].take();
        reordered["inputSchema"]["properties"] = json!({"a": props["a"], "b": props["b"]});
        let b: Tool = serde_json::from_value(reordered).expect("a tool");
        assert_eq!(digest(&a), digest(&b));
        assert_ne!(digest(&a), digest(&tool("does another thing")));
        let pins = UpstreamPins::of_tools(std::slice::from_ref(&a));
        assert_eq!(pins.drift(&a), None);
        assert!(matches!(
            pins.drift(&tool("x")),
            Some(Drift::Changed { .. })
        ));
        let mut other = a;
        other.name = "u".into();
        assert!(matches!(pins.drift(&other), Some(Drift::New { .. })));
    }

    #[test]
    fn pins_survive_a_round_trip_through_the_file() {
        let dir = tempfile::tempdir().expect("a directory");
        let file = PinFile::in_dir(dir.path());
        assert_eq!(file.of("up").expect("no file yet"), None);
        let pins = UpstreamPins::of_tools(&[tool("d")]);
        file.store("up", pins.clone()).expect("stored");
        assert_eq!(file.of("up").expect("read"), Some(pins));
        std::fs::write(file.path(), "not json").expect("write");
        assert!(file.of("up").is_err());
    }
}
