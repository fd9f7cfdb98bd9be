//! Integration tests: exact request shapes and error paths against wiremock, and the
//! WebSocket session against an in-test server.

mod api;
mod auth;
mod e2e;
mod routes;
mod screenshot;
mod secrets;
mod support;
mod tls;
mod ws;
