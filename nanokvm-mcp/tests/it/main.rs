//! Integration tests for nanokvm-mcp: an rmcp client talks to the server in-process over
//! an in-memory pipe, with a simulated NanoKVM behind it; the binary over stdio, as an
//! MCP client starts it; the server over Streamable HTTP; and gateway processes sharing
//! counters in Redis.

mod fleet;
mod gateway;
mod http;
mod media;
mod reference;
mod stdio;
mod support;
mod tools;
