//! `docs/mcp.md` is the reference the server's own definitions render.

use std::path::Path;

#[test]
fn the_tool_reference_is_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/mcp.md");
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    let rendered = nanokvm_mcp::reference::markdown();
    assert!(
        current == rendered,
        "docs/mcp.md is stale: run `cargo xtask docs` and commit it"
    );
    for tool in nanokvm_policy::catalogue::TOOLS {
        assert!(
            rendered.contains(&format!("### `{}`", tool.name)),
            "{}",
            tool.name
        );
    }
}
