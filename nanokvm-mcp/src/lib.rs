//! The NanoKVM MCP server: AI agents operate a remote machine through a Sipeed NanoKVM
//! (keyboard, mouse, power and reset buttons, screen, virtual media), and every call
//! passes the policy gate of `nanokvm-policy` before anything reaches the device.
//!
//! - [`server::NanoKvmServer`]: the MCP server (rmcp). Its tools are the gate's tool
//!   catalogue: names, descriptions, input schemas and annotations come from
//!   [`nanokvm_policy::catalogue`], and the tools the policy hides are left out. It holds
//!   gates, never clients, so no tool can reach a device around the policy.
//! - [`setup`]: turns the command line and the environment (compatible with the
//!   `NANOKVM_*` variables of the Python NanoKVM MCP server) into devices behind gates,
//!   with the policy, counters and audit log of a state directory.
//! - [`http`]: the server over Streamable HTTP (`--http`), behind named bearer tokens
//!   ([`http::Tokens`]) whose names are the policy's grants, with `Host`, `Origin` and
//!   body-size checks.
//!
//! - [`gateway`]: `nanokvm-mcp gateway`, the same policy, approvals, limits and audit
//!   log in front of any other MCP server (over stdio or Streamable HTTP), with
//!   tool-definition pinning.
//!
//! - [`reference`](mod@reference): the tool reference `docs/mcp.md`, rendered from the same
//!   definitions.
//!
//! This crate is the only one in the workspace that knows MCP.

mod asking;
pub mod gateway;
pub mod http;
pub mod reference;
pub mod server;
pub mod setup;
