//! Tidy checks: repository rules kept as ordinary tests, so `cargo test` enforces them.
//!
//! Each rule is a pure function over file contents or `cargo metadata` JSON that returns
//! every problem it finds, plus a thin test that feeds it the real repository. Each rule
//! also has a small negative test on made-up input, so a rule that stopped finding
//! anything would fail instead of passing quietly.

use std::{
    collections::BTreeSet,
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------
// Module docs

/// Whether a Rust source file starts with a `//!` doc comment, before anything else
/// (inner attributes such as `#![allow(..)]` go after the doc).
fn starts_with_module_doc(text: &str) -> bool {
    text.starts_with("//!")
}

/// The files, among `(path, contents)` pairs, that do not start with a `//!` doc.
fn missing_module_docs(files: &[(String, String)]) -> Vec<String> {
    files
        .iter()
        .filter(|(_, text)| !starts_with_module_doc(text))
        .map(|(path, _)| format!("{path}: does not start with a `//!` module doc"))
        .collect()
}

#[test]
fn every_rust_file_starts_with_a_module_doc() {
    let problems = missing_module_docs(&rust_files());
    assert!(
        problems.is_empty(),
        "every .rs file must open with a `//!` doc saying what it is for:\n{}",
        problems.join("\n")
    );
}

#[test]
fn module_doc_check_rejects_files_without_one() {
    assert!(starts_with_module_doc("//! Keycodes.\n\nmod x;\n"));
    assert!(!starts_with_module_doc("fn main() {}\n"));
    assert!(!starts_with_module_doc("/// An item doc.\nfn f() {}\n"));
    assert!(!starts_with_module_doc(
        "#![allow(dead_code)]\n//! Late doc.\n"
    ));
    assert!(!starts_with_module_doc("\n//! After a blank line.\n"));
    assert!(!starts_with_module_doc(""));
    let files = [
        ("good.rs".to_owned(), "//! Good.\n".to_owned()),
        ("bad.rs".to_owned(), "use std::fs;\n".to_owned()),
        ("worse.rs".to_owned(), String::new()),
    ];
    assert_eq!(
        missing_module_docs(&files),
        [
            "bad.rs: does not start with a `//!` module doc",
            "worse.rs: does not start with a `//!` module doc",
        ]
    );
}

// ---------------------------------------------------------------------------------------
// Banned test attributes

/// Text that must not appear in any Rust source file, with the reason. The needles are
/// built with `concat!` so that this file does not contain them itself.
const BANNED: &[(&str, &str)] = &[
    (
        concat!("#[", "ignore"),
        "a test that does not run cannot fail; assert the current behaviour and leave a FIXME",
    ),
    (
        concat!("#[", "should_panic"),
        "assert on the `Err` or `None` instead of expecting a panic",
    ),
    (
        concat!("```", "ignore"),
        "doc examples run; use `no_run` when one needs a device",
    ),
];

/// Every line of `text` (named `path`) that contains a banned needle.
fn banned_text(path: &str, text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for (number, line) in text.lines().enumerate() {
        for (needle, reason) in BANNED {
            if line.contains(needle) {
                problems.push(format!("{path}:{}: `{needle}`: {reason}", number + 1));
            }
        }
    }
    problems
}

#[test]
fn no_ignored_or_panicking_tests() {
    let problems: Vec<String> = rust_files()
        .iter()
        .flat_map(|(path, text)| banned_text(path, text))
        .collect();
    assert!(
        problems.is_empty(),
        "banned attributes found:\n{}",
        problems.join("\n")
    );
}

#[test]
fn banned_text_check_finds_each_needle() {
    assert!(banned_text("ok.rs", "#[test]\nfn t() { assert!(f().is_err()); }\n").is_empty());
    let source = [
        "#[test]",
        concat!("#[", "ignore", "]"),
        concat!("#[", "should_panic", "(expected = \"boom\")]"),
        "fn t() {}",
        concat!("/// ```", "ignore"),
    ]
    .join("\n");
    let problems = banned_text("bad.rs", &source);
    assert_eq!(problems.len(), 3, "{problems:#?}");
    assert!(problems[0].starts_with("bad.rs:2: "), "{problems:#?}");
    assert!(problems[1].starts_with("bad.rs:3: "), "{problems:#?}");
    assert!(problems[2].starts_with("bad.rs:5: "), "{problems:#?}");
}

// ---------------------------------------------------------------------------------------
// Dependency direction

/// The workspace crates each workspace crate may depend on through normal and build
/// dependencies. This is the "Dependency direction" section of ARCHITECTURE.md written as
/// data; a crate missing here is an error, so a new crate has to be placed on purpose.
const ALLOWED: &[(&str, &[&str])] = &[
    ("nanokvm-hid", &[]),
    ("nanokvm-client", &["nanokvm-hid"]),
    ("nanokvm-sim", &["nanokvm-hid"]),
    ("nanokvm-policy", &["nanokvm-hid", "nanokvm-client"]),
    (
        "nanokvm-mcp",
        &[
            "nanokvm-policy",
            "nanokvm-client",
            "nanokvm-hid",
            "nanokvm-sim",
        ],
    ),
    (
        "nanokvm-cli",
        &[
            "nanokvm-policy",
            "nanokvm-client",
            "nanokvm-hid",
            "nanokvm-sim",
        ],
    ),
    ("xtask", &[]),
];

/// Workspace crates that dev-dependencies may use on top of `ALLOWED`: tests may run
/// against the simulator.
const DEV_ALSO_ALLOWED: &[&str] = &["nanokvm-sim"];

/// `(from, to)` pairs where `from` must not depend on `to` in any kind, tests included.
/// The client and the simulator are two independent implementations of the firmware
/// contract, and each keeps the other honest only while they share no code: the
/// simulator never sees the client. The client's end-to-end tests may start a simulator
/// as a black box over TCP (a dev-dependency), which shares no protocol code.
const NEVER: &[(&str, &str)] = &[("nanokvm-sim", "nanokvm-client")];

/// Crates `nanokvm-hid` must not use outside its tests: it stays pure, with no async and
/// no networking.
const HID_BANNED: &[&str] = &[
    "tokio",
    "reqwest",
    "hyper",
    "async-std",
    "futures",
    "tokio-tungstenite",
    "axum",
    "mio",
];

/// Every breach of the dependency rules in `cargo metadata --no-deps` output.
fn dependency_problems(metadata: &Value) -> Vec<String> {
    let packages = packages(metadata);
    let members: BTreeSet<&str> = packages.iter().filter_map(|p| p["name"].as_str()).collect();
    let mut problems = Vec::new();
    for package in &packages {
        let Some(name) = package["name"].as_str() else {
            problems.push("a package in `cargo metadata` has no name".to_owned());
            continue;
        };
        let Some(&(_, allowed)) = ALLOWED.iter().find(|(n, _)| *n == name) else {
            problems.push(format!(
                "{name}: not in the dependency table; add it to `ALLOWED` in \
                 xtask/tests/tidy.rs and to ARCHITECTURE.md"
            ));
            continue;
        };
        for dependency in package["dependencies"].as_array().into_iter().flatten() {
            let Some(dep) = dependency["name"].as_str() else {
                problems.push(format!("{name}: a dependency has no name"));
                continue;
            };
            let kind = dependency["kind"].as_str().unwrap_or("normal");
            let dev = kind == "dev";
            if name == "nanokvm-hid" && !dev && HID_BANNED.contains(&dep) {
                problems.push(format!(
                    "nanokvm-hid: {kind} dependency on `{dep}`; the crate is pure, \
                     with nothing async or networked"
                ));
            }
            if !members.contains(dep) {
                continue;
            }
            let never = NEVER.contains(&(name, dep));
            let allowed = allowed.contains(&dep) || (dev && DEV_ALSO_ALLOWED.contains(&dep));
            if never || !allowed {
                problems.push(format!(
                    "{name}: {kind} dependency on `{dep}` breaks the dependency direction \
                     (see ARCHITECTURE.md)"
                ));
            }
        }
    }
    problems
}

#[test]
fn dependencies_follow_the_architecture() {
    let problems = dependency_problems(&metadata());
    assert!(
        problems.is_empty(),
        "dependency rules broken:\n{}",
        problems.join("\n")
    );
}

/// A made-up package for `fake_metadata`: its name and its dependencies, each as
/// `(name, kind)` with `kind` `None` for a normal dependency.
type FakePackage<'a> = (&'a str, &'a [(&'a str, Option<&'a str>)]);

/// A made-up `cargo metadata` document with the given packages.
fn fake_metadata(packages: &[FakePackage<'_>]) -> Value {
    let packages: Vec<Value> = packages
        .iter()
        .map(|(name, deps)| {
            let deps: Vec<Value> = deps
                .iter()
                .map(|(dep, kind)| json!({ "name": dep, "kind": kind }))
                .collect();
            json!({
                "name": name,
                "manifest_path": format!("/repo/{name}/Cargo.toml"),
                "dependencies": deps,
            })
        })
        .collect();
    json!({ "packages": packages, "workspace_root": "/repo" })
}

#[test]
fn dependency_check_accepts_the_planned_graph() {
    let metadata = fake_metadata(&[
        (
            "nanokvm-hid",
            &[("thiserror", None), ("tokio", Some("dev"))],
        ),
        (
            "nanokvm-client",
            &[
                ("nanokvm-hid", None),
                ("reqwest", None),
                ("nanokvm-sim", Some("dev")),
            ],
        ),
        ("nanokvm-sim", &[("nanokvm-hid", None)]),
        (
            "nanokvm-policy",
            &[("nanokvm-hid", None), ("nanokvm-client", None)],
        ),
        (
            "nanokvm-mcp",
            &[("nanokvm-policy", None), ("nanokvm-sim", None)],
        ),
        (
            "nanokvm-cli",
            &[("nanokvm-policy", None), ("nanokvm-sim", Some("dev"))],
        ),
        ("xtask", &[("anyhow", None)]),
    ]);
    assert_eq!(dependency_problems(&metadata), Vec::<String>::new());
}

#[test]
fn dependency_check_rejects_each_kind_of_breach() {
    let metadata = fake_metadata(&[
        // Upwards: the pure layer on the client.
        (
            "nanokvm-hid",
            &[("nanokvm-client", None), ("futures", None)],
        ),
        // The client may start the simulator only in its tests; the simulator never
        // sees the client, not even in tests.
        ("nanokvm-client", &[("nanokvm-sim", None)]),
        ("nanokvm-sim", &[("nanokvm-client", Some("dev"))]),
        // Frontends never depend on each other.
        ("nanokvm-cli", &[("nanokvm-mcp", Some("dev"))]),
        ("nanokvm-mcp", &[]),
        // A crate nobody placed in the table.
        ("nanokvm-extra", &[]),
    ]);
    let problems = dependency_problems(&metadata);
    let expected = [
        "nanokvm-hid: normal dependency on `nanokvm-client`",
        "nanokvm-hid: normal dependency on `futures`",
        "nanokvm-client: normal dependency on `nanokvm-sim`",
        "nanokvm-sim: dev dependency on `nanokvm-client`",
        "nanokvm-cli: dev dependency on `nanokvm-mcp`",
        "nanokvm-extra: not in the dependency table",
    ];
    for prefix in expected {
        assert!(
            problems.iter().any(|p| p.starts_with(prefix)),
            "no problem starting with {prefix:?} in {problems:#?}"
        );
    }
    assert_eq!(problems.len(), expected.len(), "{problems:#?}");
}

// ---------------------------------------------------------------------------------------
// Folder names

/// Every workspace member, except `xtask`, whose manifest is not at
/// `<workspace root>/<package name>/Cargo.toml`.
fn folder_problems(metadata: &Value) -> Vec<String> {
    let Some(root) = metadata["workspace_root"].as_str() else {
        return vec!["`cargo metadata` has no `workspace_root`".to_owned()];
    };
    let mut problems = Vec::new();
    for package in packages(metadata) {
        let (Some(name), Some(manifest)) =
            (package["name"].as_str(), package["manifest_path"].as_str())
        else {
            problems.push("a package in `cargo metadata` has no name or manifest".to_owned());
            continue;
        };
        if name == "xtask" {
            continue;
        }
        let expected = Path::new(root).join(name).join("Cargo.toml");
        if Path::new(manifest) != expected {
            problems.push(format!(
                "{name}: manifest is {manifest}, expected {}: a crate lives in a top-level \
                 folder named after its package",
                expected.display()
            ));
        }
    }
    problems
}

#[test]
fn member_folders_are_named_after_their_packages() {
    let problems = folder_problems(&metadata());
    assert!(
        problems.is_empty(),
        "misplaced workspace members:\n{}",
        problems.join("\n")
    );
}

#[test]
fn folder_check_rejects_misplaced_crates() {
    let mut metadata = fake_metadata(&[("nanokvm-hid", &[]), ("nanokvm-client", &[])]);
    assert_eq!(folder_problems(&metadata), Vec::<String>::new());
    metadata["packages"][0]["manifest_path"] = json!("/repo/crates/nanokvm-hid/Cargo.toml");
    metadata["packages"][1]["manifest_path"] = json!("/repo/client/Cargo.toml");
    let problems = folder_problems(&metadata);
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(problems[0].starts_with("nanokvm-hid: "), "{problems:#?}");
    assert!(problems[1].starts_with("nanokvm-client: "), "{problems:#?}");
}

// ---------------------------------------------------------------------------------------
// The test command

/// The one command that runs every check, as the README gives it and `.ci/run` runs it.
const TEST_COMMAND: &str = "cargo xtask ci";

/// The lines of a Markdown document that sit inside fenced code blocks.
fn fenced_lines(markdown: &str) -> Vec<&str> {
    let mut fence: Option<&str> = None;
    let mut lines = Vec::new();
    for line in markdown.lines() {
        let trimmed = line.trim_start();
        match fence {
            None => {
                if trimmed.starts_with("```") {
                    fence = Some("```");
                } else if trimmed.starts_with("~~~") {
                    fence = Some("~~~");
                }
            }
            Some(marker) if trimmed.starts_with(marker) => fence = None,
            Some(_) => lines.push(line),
        }
    }
    lines
}

/// Whether a shell script runs `command` as a line of its own (optionally with `exec`).
fn script_runs(script: &str, command: &str) -> bool {
    script.lines().map(str::trim).any(|line| {
        line == command || line.strip_prefix("exec ").map(str::trim_start) == Some(command)
    })
}

/// What is wrong with the README's test command and `.ci/run`, given their contents.
fn test_command_problems(readme: &str, ci_script: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if !fenced_lines(readme).contains(&TEST_COMMAND) {
        problems.push(format!(
            "README.md: no fenced code block has the line `{TEST_COMMAND}`"
        ));
    }
    if !script_runs(ci_script, TEST_COMMAND) {
        problems.push(format!(
            ".ci/run: does not run `{TEST_COMMAND}` on a line of its own"
        ));
    }
    problems
}

#[test]
fn ci_runs_the_readme_test_command() {
    let root = project_root();
    let read = |name: &str| fs::read_to_string(root.join(name)).unwrap_or_default();
    let problems = test_command_problems(&read("README.md"), &read(".ci/run"));
    assert!(
        problems.is_empty(),
        "the README's test command and .ci/run disagree:\n{}",
        problems.join("\n")
    );
}

#[test]
fn test_command_check_rejects_mismatches() {
    let readme = "# X\n\nRun the tests:\n\n```sh\ncargo xtask ci\n```\n";
    let script = "#!/usr/bin/env bash\nset -euo pipefail\ncargo xtask ci\n";
    assert_eq!(test_command_problems(readme, script), Vec::<String>::new());
    assert!(script_runs("exec cargo xtask ci\n", TEST_COMMAND));

    // Outside a fence, with other arguments, or only in a comment: none of these count.
    let unfenced = "Run `cargo xtask ci`.\ncargo xtask ci\n";
    let other = "```sh\ncargo xtask ci --fast\n```\n";
    let comment = "# cargo xtask ci\ncargo test\n";
    assert_eq!(test_command_problems(unfenced, script).len(), 1);
    assert_eq!(test_command_problems(other, script).len(), 1);
    assert_eq!(test_command_problems(readme, comment).len(), 1);
    assert_eq!(test_command_problems("", "").len(), 2);
}

// ---------------------------------------------------------------------------------------
// The real repository

/// The workspace root: the parent of the xtask folder.
fn project_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

/// The folders, inside a crate folder, that hold its Rust sources.
const SOURCE_FOLDERS: &[&str] = &["src", "tests", "examples", "benches", "fuzz/fuzz_targets"];

/// Every `.rs` file of every crate folder (a top-level folder with a `Cargo.toml`), as
/// `(path relative to the root, contents)`, sorted by path.
fn rust_files() -> Vec<(String, String)> {
    let root = project_root();
    let mut paths = Vec::new();
    for entry in read_dir(&root) {
        let name = entry.file_name().unwrap_or_default();
        if name == "target" || !entry.join("Cargo.toml").is_file() {
            continue;
        }
        let build_script = entry.join("build.rs");
        if build_script.is_file() {
            paths.push(build_script);
        }
        for folder in SOURCE_FOLDERS {
            collect_rust_files(&entry.join(folder), &mut paths);
        }
    }
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = fs::read_to_string(&path)
                .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()));
            let relative = path.strip_prefix(&root).unwrap_or(&path);
            (relative.display().to_string(), text)
        })
        .collect()
}

/// Adds the `.rs` files under `dir`, recursively, to `out`; a missing `dir` adds nothing.
fn collect_rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    if !dir.is_dir() {
        return;
    }
    for path in read_dir(dir) {
        if path.is_dir() {
            collect_rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

/// The entries of a directory, as paths.
fn read_dir(dir: &Path) -> Vec<PathBuf> {
    fs::read_dir(dir)
        .unwrap_or_else(|err| panic!("cannot list {}: {err}", dir.display()))
        .map(|entry| {
            entry
                .unwrap_or_else(|err| panic!("cannot list {}: {err}", dir.display()))
                .path()
        })
        .collect()
}

/// The output of `cargo metadata --format-version 1 --no-deps` for this workspace.
fn metadata() -> Value {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(project_root())
        .output()
        .expect("cannot run `cargo metadata`");
    assert!(
        output.status.success(),
        "`cargo metadata` failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("`cargo metadata` printed invalid JSON")
}

/// The `packages` of a `cargo metadata` document.
fn packages(metadata: &Value) -> Vec<&Value> {
    metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .collect()
}
