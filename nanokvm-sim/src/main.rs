//! `nanokvm-sim`: serves a simulated NanoKVM until interrupted.
//!
//! Flags are parsed by hand because only nanokvm-cli may depend on clap.
// A command-line program reports on its terminal; that is its whole interface.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::net::SocketAddr;
use std::process::ExitCode;

use nanokvm_sim::{FirmwareVersion, Simulator, TimeScale};

const USAGE: &str = "usage: nanokvm-sim [--listen ADDR] [--firmware 2.5.1|2.5.0|2.3.1] \
[--user NAME] [--password PASSWORD] [--data-dir DIR] [--layout NAME] [--time-scale FACTOR] \
[--update-server URL] [--no-auth] [--powered-off]";

fn parse(args: &[String]) -> Result<nanokvm_sim::SimulatorBuilder, String> {
    let mut builder = Simulator::builder().listen(SocketAddr::from(([127, 0, 0, 1], 8080)));
    let mut user = "admin".to_owned();
    let mut password = "admin".to_owned();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        builder = match flag.as_str() {
            "--listen" => builder.listen(value()?.parse().map_err(|e| format!("--listen: {e}"))?),
            "--firmware" => builder.firmware(
                value()?
                    .parse::<FirmwareVersion>()
                    .map_err(|e| e.to_string())?,
            ),
            "--user" => {
                user = value()?;
                builder
            }
            "--password" => {
                password = value()?;
                builder
            }
            "--data-dir" => builder.data_dir(value()?),
            "--layout" => builder
                .layout(nanokvm_hid::Layout::from_name(&value()?).map_err(|e| e.to_string())?),
            "--time-scale" => {
                let f: f64 = value()?.parse().map_err(|e| format!("--time-scale: {e}"))?;
                builder.time_scale(TimeScale::new(f))
            }
            "--update-server" => builder.update_server(value()?),
            "--no-auth" => builder.authentication(false),
            "--powered-off" => builder.powered_on(false),
            other => return Err(format!("unknown argument {other:?}")),
        };
    }
    Ok(builder.credentials(&user, &password))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let builder = match parse(&args) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("nanokvm-sim: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let sim = match builder.start().await {
        Ok(sim) => sim,
        Err(e) => {
            let mut msg = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                msg.push_str(&format!(": {s}"));
                source = s.source();
            }
            eprintln!("nanokvm-sim: {msg}");
            return ExitCode::FAILURE;
        }
    };
    println!("{}", sim.url());
    eprintln!(
        "nanokvm-sim: firmware {}, data directory {}; Ctrl-C to stop",
        sim.firmware(),
        sim.data_dir().display()
    );
    let _ = tokio::signal::ctrl_c().await;
    match sim.shutdown().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nanokvm-sim: {e}");
            ExitCode::FAILURE
        }
    }
}
