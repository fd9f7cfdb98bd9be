//! Integration tests for nanokvm-sim: conformance of the wire shapes, driven with raw
//! HTTP/1.1 and raw WebSocket frames rather than any client library.

mod auth;
mod capture;
mod download;
mod hid;
mod origin;
mod stream;
mod support;
mod upload;
mod vm;
mod ws;
