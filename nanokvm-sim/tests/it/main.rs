//! Integration tests for nanokvm-sim: conformance of the wire shapes, driven with raw
//! HTTP/1.1 and raw WebSocket frames rather than any client library.

mod application;
mod auth;
mod bad_input;
#[cfg(unix)]
mod binary;
mod capture;
mod conformance;
mod download;
mod h264;
mod hid;
mod origin;
mod stream;
mod support;
mod system;
mod upload;
mod vm;
mod workflow;
mod ws;
