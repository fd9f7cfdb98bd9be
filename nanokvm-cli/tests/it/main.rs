//! Runs the `nanokvm` binary against simulated NanoKVMs and checks what it did to the
//! simulated machine, what it printed and how it exited.

mod admin;
mod device;
mod help;
mod script;
mod support;
