//! Help output, kept as snapshots in `tests/it/snapshots/`. `UPDATE_SNAPSHOTS=1`
//! rewrites them after an intended change.

use std::path::PathBuf;

use crate::support::{Env, run};

fn check(name: &str, args: &[&str]) {
    let env = Env::new();
    let mut cmd = env.cmd();
    // clap shows an option's environment value in the help.
    cmd.env_remove("NANOKVM_STATE_DIR");
    let r = run(cmd, args, None);
    r.code(0);
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/snapshots")
        .join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().expect("dir")).expect("dir");
        std::fs::write(&path, &r.stdout).expect("write snapshot");
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_SNAPSHOTS=1 writes it)", path.display()));
    assert_eq!(
        r.stdout, want,
        "{name} changed; UPDATE_SNAPSHOTS=1 rewrites the snapshot"
    );
}

#[test]
fn help_matches_its_snapshots() {
    check("help.txt", &["--help"]);
    check("help-power.txt", &["power", "--help"]);
    check("help-type.txt", &["type", "--help"]);
    check("help-run.txt", &["run", "--help"]);
}

#[test]
fn help_documents_the_exit_codes_and_version_prints() {
    let env = Env::new();
    let r = run(env.cmd(), &["--help"], None);
    for code in [
        "0  success",
        "2  usage error",
        "3  denied by the policy",
        "4  device unreachable",
        "5  authentication failed",
        "6  not supported",
    ] {
        assert!(r.stdout.contains(code), "{code}");
    }
    let v = run(env.cmd(), &["--version"], None);
    v.code(0);
    assert!(v.stdout.starts_with("nanokvm "), "{}", v.stdout);
    run(env.cmd(), &["frobnicate"], None).code(2);
}
