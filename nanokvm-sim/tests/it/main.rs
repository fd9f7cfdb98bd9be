//! Integration tests for nanokvm-sim: conformance of the wire shapes, driven with raw
//! HTTP/1.1 and raw WebSocket frames rather than any client library.

mod auth;
mod hid;
mod stream;
mod support;
mod vm;
mod ws;
