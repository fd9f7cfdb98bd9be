//! Integration tests: exact request shapes and error paths against wiremock, the
//! WebSocket session against an in-test server, HTTPS through a TLS front, secrets in
//! logs and errors, and end-to-end runs against the simulator.

mod api;
mod auth;
mod e2e;
mod routes;
mod screenshot;
mod secrets;
mod support;
mod tls;
mod tour;
mod ws;
