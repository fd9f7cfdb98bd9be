//! The tool catalogue: its schemas agree with parsing, and `docs/tools.md`, generated
//! from it, is up to date (the schema snapshot of every tool).

use std::fmt::Write as _;
use std::path::Path;

use nanokvm_policy::Error;
use nanokvm_policy::catalogue::{DeviceAction, TOOLS, ToolInfo};
use nanokvm_policy::{Layout, RiskClass};
use serde_json::{Value, json};

/// Arguments that parse for each tool, with every optional argument given.
fn full_args(tool: &str) -> Value {
    match tool {
        "nanokvm_send_text" => json!({"text": "hi", "language": "de", "skip_unsupported": true}),
        "nanokvm_type_text" => json!({"text": "hi", "layout": "fr", "delay_ms": 5}),
        "nanokvm_send_key" => {
            json!({"key": "c", "ctrl": true, "shift": false, "alt": false, "meta": false})
        }
        "nanokvm_move" | "nanokvm_tap" => json!({"x": 640, "y": 360}),
        "nanokvm_move_relative" => json!({"dx": -3, "dy": 4}),
        "nanokvm_click" => json!({"button": "right", "x": 10, "y": 20, "double": true}),
        "nanokvm_drag" => {
            json!({"from": {"x": 0, "y": 0}, "to": {"x": 1, "y": 1}, "button": "middle"})
        }
        "nanokvm_scroll" => json!({"amount": -2}),
        "nanokvm_mount_iso" => json!({"file": "/data/a.iso", "as_cdrom": false}),
        "nanokvm_delete_iso" => json!({"file": "/data/a.iso"}),
        "nanokvm_set_hid_mode" => json!({"mode": "hid_only"}),
        "nanokvm_wake_on_lan" => json!({"mac": "aa:bb:cc:dd:ee:ff"}),
        "nanokvm_power" => json!({"action": "reset"}),
        "nanokvm_power_cycle" => json!({"off_duration_ms": 1000}),
        "nanokvm_screenshot" => json!({
            "max_width": 1280,
            "max_height": 720,
            "quality": 70,
            "crop": {"x": 10, "y": 20, "width": 300, "height": 200}
        }),
        "nanokvm_send_keys" => json!({"keys": "ctrl+a ctrl+c"}),
        "nanokvm_power_ensure" => json!({"state": "off", "timeout_ms": 5000}),
        "nanokvm_wait_for_screen" => {
            json!({"until": "stable", "stable_ms": 500, "timeout_ms": 5000})
        }
        "nanokvm_download_iso" => json!({
            "url": "https://releases.example.org/debian.iso",
            "sha256": "ab".repeat(32),
            "timeout_s": 600
        }),
        "nanokvm_upload_iso" => json!({"path": "images/debian.iso"}),
        "nanokvm_policy_explain" => {
            json!({"tool": "nanokvm_tap", "arguments": {"x": 1, "y": 2}})
        }
        _ => json!({}),
    }
}

fn properties(schema: &Value) -> Vec<String> {
    schema["properties"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn every_tool_declares_the_object_its_result_is() {
    for tool in TOOLS {
        let schema = tool.output_schema();
        assert_eq!(schema["type"], "object", "{}", tool.name);
        assert!(
            !properties(&schema).is_empty(),
            "{}: a result says something",
            tool.name
        );
        assert!(
            !schema.to_string().contains("$ref"),
            "{}: inlined, without references",
            tool.name
        );
    }
    // What a screenshot returns beside its image.
    let shot = nanokvm_policy::catalogue::tool_info("nanokvm_screenshot").unwrap();
    let mut props = properties(&shot.output_schema());
    props.sort();
    assert_eq!(
        props,
        [
            "bytes",
            "format",
            "height",
            "region",
            "scale",
            "source_height",
            "source_width",
            "width"
        ]
    );
}

#[test]
fn every_schema_describes_exactly_the_arguments_parsing_takes() {
    for tool in TOOLS {
        let schema = tool.input_schema();
        assert_eq!(schema["type"], "object", "{}", tool.name);
        assert_eq!(schema["additionalProperties"], false, "{}", tool.name);
        let args = full_args(tool.name);
        let action = DeviceAction::parse(tool.name, &args, Layout::Us)
            .unwrap_or_else(|e| panic!("{}: {e}", tool.name));
        // Canonical arguments use the schema's names, and only those.
        let mut canonical: Vec<String> = action
            .args()
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        canonical.sort();
        let mut props = properties(&schema);
        props.sort();
        assert_eq!(canonical, props, "{}", tool.name);
        // A required argument left out is refused, naming it.
        for required in schema["required"].as_array().into_iter().flatten() {
            let name = required.as_str().unwrap_or_default();
            let mut partial = args.clone();
            partial.as_object_mut().map(|o| o.remove(name));
            match DeviceAction::parse(tool.name, &partial, Layout::Us) {
                Err(Error::InvalidArguments { argument, .. }) => {
                    assert_eq!(argument, name, "{}", tool.name);
                }
                other => panic!("{} without {name}: {other:?}", tool.name),
            }
        }
        // Every bound in the schema is the bound parsing enforces.
        for (name, property) in schema["properties"].as_object().into_iter().flatten() {
            for (keyword, step) in [("maximum", 1_i32), ("minimum", -1)] {
                let Some(bound) = property[keyword].as_i64() else {
                    continue;
                };
                let mut at = args.clone();
                at[name] = json!(bound);
                if property.get("not").is_none() || bound != 0 {
                    DeviceAction::parse(tool.name, &at, Layout::Us).unwrap_or_else(|e| {
                        panic!("{} {name} = {bound} is in range: {e}", tool.name)
                    });
                }
                let outside = if property["type"] == "number" {
                    json!(bound as f64 + f64::from(step) * 0.001)
                } else {
                    json!(bound + i64::from(step))
                };
                at[name] = outside.clone();
                match DeviceAction::parse(tool.name, &at, Layout::Us) {
                    Err(Error::InvalidArguments { argument, .. }) => {
                        assert_eq!(argument, *name, "{}", tool.name);
                    }
                    other => panic!("{} {name} = {outside}: {other:?}", tool.name),
                }
            }
        }
    }
}

#[test]
fn tools_are_named_once_and_typing_tools_are_marked() {
    let mut names: Vec<&str> = TOOLS.iter().map(|t| t.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), TOOLS.len());
    let typing: Vec<&str> = TOOLS.iter().filter(|t| t.types).map(|t| t.name).collect();
    assert_eq!(
        typing,
        [
            "nanokvm_send_text",
            "nanokvm_type_text",
            "nanokvm_send_key",
            "nanokvm_send_keys"
        ]
    );
    for tool in TOOLS {
        assert!(
            !(tool.hints.read_only && tool.hints.destructive),
            "{}",
            tool.name
        );
        if tool.hints.read_only {
            assert_eq!(tool.risk, RiskClass::Low, "{}", tool.name);
        }
    }
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// One tool's section of `docs/tools.md`.
fn section(out: &mut String, tool: &ToolInfo) {
    let schema = tool.input_schema();
    let h = tool.hints;
    let _ = writeln!(
        out,
        "## `{}`: {}\n\n{}\n",
        tool.name, tool.title, tool.description
    );
    let _ = writeln!(
        out,
        "Risk: {}. Read-only: {}. Destructive: {}. Idempotent: {}. Open-world: {}. Types on the \
         keyboard: {}.\n",
        tool.risk.name(),
        yes(h.read_only),
        yes(h.destructive),
        yes(h.idempotent),
        yes(h.open_world),
        yes(tool.types)
    );
    let required: Vec<&str> = schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let props = schema["properties"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    if props.is_empty() {
        let _ = writeln!(out, "No arguments.\n");
    } else {
        let _ = writeln!(out, "| argument | | description |\n| --- | --- | --- |");
        for (name, p) in &props {
            let need = if required.contains(&name.as_str()) {
                "required".to_owned()
            } else {
                match p.get("default") {
                    Some(d) => format!("default `{d}`"),
                    None => "optional".to_owned(),
                }
            };
            let description = p["description"].as_str().unwrap_or("").replace('\n', " ");
            let _ = writeln!(out, "| `{name}` | {need} | {description} |");
        }
        let _ = writeln!(out);
    }
    let pretty = serde_json::to_string_pretty(&schema).unwrap_or_default();
    let _ = writeln!(out, "```json\n{pretty}\n```\n");
}

#[test]
fn the_tool_reference_is_generated_from_the_catalogue() {
    let mut out = String::from(
        "# Device tools\n\n\
         <!-- Generated from the tool catalogue of nanokvm-policy by its test \
         `catalogue::the_tool_reference_is_generated_from_the_catalogue`; do not edit. -->\n\n\
         Every device tool of the MCP server, and the action a CLI command maps to, with its \
         arguments as JSON. Policies name these tools and their arguments \
         (`args.<name>`); the canonical arguments (defaults filled in) are what a policy \
         decides on and the audit log records.\n\n",
    );
    for tool in TOOLS {
        section(&mut out, tool);
    }
    let out = format!("{}\n", out.trim_end());
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/tools.md");
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    if current != out {
        std::fs::write(&path, &out).expect("write docs/tools.md");
        panic!("docs/tools.md was out of date and has been regenerated: review and commit it");
    }
}

#[test]
fn typing_follows_the_targets_operating_system() {
    use nanokvm_policy::catalogue::TypedKeys;
    use nanokvm_policy::{Keymap, TargetOs};
    let strokes = |os| {
        let keymap = Keymap::new(Layout::Cz, os);
        let action = DeviceAction::parse("nanokvm_type_text", &json!({"text": "#"}), keymap)
            .expect("parses");
        match action.typed_keys(keymap).expect("typeable") {
            Some(TypedKeys::Strokes { strokes, .. }) => strokes,
            other => panic!("{other:?}"),
        }
    };
    // `#` is AltGr+3 on Czech Linux (XKB) and AltGr+X on Czech Windows.
    let linux = strokes(TargetOs::Linux);
    let windows = strokes(TargetOs::Windows);
    assert_eq!(linux.len(), 1);
    assert_eq!(linux[0].key.usage(), 0x20, "the 3 key");
    assert_ne!(linux, windows);
}
