//! Client benchmark against an embedded simulator: what the typed client adds to a raw
//! HTTP request, how long a screenshot takes, and how many keyboard reports one
//! WebSocket session carries per second.
//!
//! Run with `cargo bench -p nanokvm-client --bench client`. It starts `nanokvm-sim`
//! (firmware 2.5.1, real time, 1280x720) on 127.0.0.1 in the same process, prints
//! figures and never asserts on them. The targets it reports against:
//!
//! - a typed call adds under 5 % or under 100 µs to a raw request on the same route
//!   (`GET /api/vm/gpio`: `client.power().leds()` against a hand-written HTTP/1.1
//!   request on a kept-alive socket with the same session cookie; a bare reqwest GET in
//!   between shows how much of the difference is the HTTP library);
//! - a screenshot arrives within one frame interval plus 5 ms (the simulator, like the
//!   firmware, sends a newcomer the next captured frame, so one interval is the floor);
//! - at least 5,000 keyboard reports per second over one session.
//!
//! `CLIENT_BENCH_SCALE` (default 1) multiplies the number of samples.

// A benchmark reports on stdout; that is its whole purpose.
#![allow(clippy::print_stdout)]

use std::time::{Duration, Instant};

use nanokvm_client::{Client, SecretString};
use nanokvm_hid::{KeyboardReport, Keycode, Modifiers};
use nanokvm_sim::{Simulator, TimeScale};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;

type BoxResult<T> = Result<T, Box<dyn std::error::Error>>;

fn main() -> BoxResult<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run())
}

async fn run() -> BoxResult<()> {
    let scale = std::env::var("CLIENT_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .filter(|s| *s > 0)
        .unwrap_or(1);
    let sim = Simulator::builder()
        .time_scale(TimeScale::REAL)
        .resolution(1280, 720)
        .start()
        .await?;
    let client = Client::builder(sim.url())
        .credentials("admin", SecretString::from("admin"))
        .build()?;
    client.login().await?;
    let caps = client.capabilities().await?;
    println!(
        "nanokvm-client benchmark against nanokvm-sim ({}, 1280x720, real time, 127.0.0.1)",
        caps.describe()
    );
    println!();

    typed_call_overhead(&sim, &client, 2_000 * scale).await?;
    println!();
    screenshots(&client, 40 * scale).await?;
    println!();
    keyboard_throughput(&sim, &client, 10_000 * scale).await?;

    sim.shutdown().await?;
    Ok(())
}

/// A sorted set of durations.
struct Samples(Vec<Duration>);

impl Samples {
    fn new(mut v: Vec<Duration>) -> Self {
        v.sort_unstable();
        Self(v)
    }

    fn quantile(&self, q: f64) -> Duration {
        // Nearest rank; the sample counts are small and positive.
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let rank = ((self.0.len() as f64 * q).ceil() as usize).clamp(1, self.0.len());
        self.0[rank - 1]
    }

    fn median(&self) -> Duration {
        self.quantile(0.5)
    }

    fn p99(&self) -> Duration {
        self.quantile(0.99)
    }
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// `GET /api/vm/gpio` three ways, interleaved so all see the same machine load: by hand on
/// a kept-alive socket, with a bare reqwest client (the transport the typed client uses),
/// and through the typed client (session, request building, envelope decoding).
async fn typed_call_overhead(sim: &Simulator, client: &Client, n: usize) -> BoxResult<()> {
    let mut raw = RawHttp::connect(sim).await?;
    let reqwest = bare_reqwest()?;
    let url = format!("{}/api/vm/gpio", sim.url());
    let cookie = raw.cookie.clone();
    let bare = || async {
        reqwest
            .get(&url)
            .header("cookie", &cookie)
            .send()
            .await?
            .bytes()
            .await
    };
    let mut raw_times = Vec::with_capacity(n);
    let mut bare_times = Vec::with_capacity(n);
    let mut typed_times = Vec::with_capacity(n);
    let warmup = n / 10;
    for i in 0..warmup + n {
        // Rotate which goes first, so none always runs on a warmed-up cache.
        let (mut r, mut b, mut t) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
        for step in 0..3 {
            match (i + step) % 3 {
                0 => r = time(raw.get("/api/vm/gpio")).await?,
                1 => b = time(bare()).await?,
                _ => t = time(client.power().leds()).await?,
            }
        }
        if i >= warmup {
            raw_times.push(r);
            bare_times.push(b);
            typed_times.push(t);
        }
    }
    let raw = Samples::new(raw_times);
    let bare = Samples::new(bare_times);
    let typed = Samples::new(typed_times);
    println!("typed call vs raw HTTP, GET /api/vm/gpio, {n} calls each (kept-alive sockets):");
    for (name, s) in [
        ("raw request by hand:   ", &raw),
        ("bare reqwest GET:      ", &bare),
        ("client.power().leds(): ", &typed),
    ] {
        println!(
            "  {name} median {:>7.1} µs   p99 {:>7.1} µs",
            micros(s.median()),
            micros(s.p99())
        );
    }
    let added_median = micros(typed.median()) - micros(raw.median());
    let added_p99 = micros(typed.p99()) - micros(raw.p99());
    println!(
        "  added over raw: median {added_median:+.1} µs ({:+.1} %), p99 {added_p99:+.1} µs ({:+.1} %)   (target < 5 % or < 100 µs)",
        100.0 * added_median / micros(raw.median()),
        100.0 * added_p99 / micros(raw.p99()),
    );
    println!(
        "  of which reqwest itself: median {:+.1} µs; the client's own work: median {:+.1} µs",
        micros(bare.median()) - micros(raw.median()),
        micros(typed.median()) - micros(bare.median()),
    );
    Ok(())
}

/// A reqwest client like the typed client's (rustls with `ring`), for plain HTTP.
fn bare_reqwest() -> BoxResult<reqwest::Client> {
    let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(rustls::RootCertStore::empty())
    .with_no_client_auth();
    Ok(reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .build()?)
}

async fn time<T, E>(f: impl std::future::Future<Output = Result<T, E>>) -> Result<Duration, E> {
    let start = Instant::now();
    f.await?;
    Ok(start.elapsed())
}

/// A hand-written HTTP/1.1 client on one kept-alive socket, with a session cookie from
/// its own login: the least work a request to the device can take.
struct RawHttp {
    stream: BufReader<TcpStream>,
    host: String,
    cookie: String,
}

impl RawHttp {
    async fn connect(sim: &Simulator) -> BoxResult<Self> {
        let stream = TcpStream::connect(sim.addr()).await?;
        stream.set_nodelay(true)?;
        let mut raw = Self {
            stream: BufReader::new(stream),
            host: sim.addr().to_string(),
            cookie: String::new(),
        };
        let body = serde_json::json!({
            "username": "admin",
            "password": nanokvm_sim::encrypt_password("admin"),
        })
        .to_string();
        let (headers, _) = raw.request("POST", "/api/auth/login", Some(&body)).await?;
        raw.cookie = headers
            .lines()
            .filter_map(|l| l.split_once(':'))
            .filter(|(name, _)| name.eq_ignore_ascii_case("set-cookie"))
            .find_map(|(_, value)| value.trim().split(';').next())
            .ok_or("the login set no cookie")?
            .to_owned();
        Ok(raw)
    }

    async fn get(&mut self, path: &str) -> BoxResult<Vec<u8>> {
        let (_, body) = self.request("GET", path, None).await?;
        Ok(body)
    }

    async fn request(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> BoxResult<(String, Vec<u8>)> {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.host);
        if !self.cookie.is_empty() {
            head.push_str(&format!("Cookie: {}\r\n", self.cookie));
        }
        if let Some(body) = body {
            head.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        head.push_str("\r\n");
        head.push_str(body.unwrap_or_default());
        self.stream.get_mut().write_all(head.as_bytes()).await?;

        let mut headers = String::new();
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            if self.stream.read_line(&mut line).await? == 0 {
                return Err("the connection closed".into());
            }
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse()?;
                }
            }
            headers.push_str(&line);
        }
        if !headers.starts_with("HTTP/1.1 200") {
            return Err(format!("unexpected answer: {headers}").into());
        }
        let mut body = vec![0; length];
        self.stream.read_exact(&mut body).await?;
        Ok((headers, body))
    }
}

/// Screenshots one after another, against the stream's frame interval.
async fn screenshots(client: &Client, n: usize) -> BoxResult<()> {
    // The simulator's default: 30 frames per second, as on the device.
    let interval = Duration::from_secs(1) / 30;
    let mut times = Vec::with_capacity(n);
    let mut bytes = 0;
    for i in 0..=n {
        let start = Instant::now();
        let jpeg = client.screenshot(Duration::from_secs(5)).await?;
        // The first one opens the connection pool; it is a warm-up.
        if i > 0 {
            times.push(start.elapsed());
            bytes = jpeg.len();
        }
    }
    let s = Samples::new(times);
    println!(
        "screenshot (first MJPEG part, new stream each time), {n} screenshots, JPEG {bytes} bytes:"
    );
    println!(
        "  median {:>6.2} ms   p99 {:>6.2} ms   frame interval {:.2} ms   (target < {:.2} ms)",
        millis(s.median()),
        millis(s.p99()),
        millis(interval),
        millis(interval + Duration::from_millis(5)),
    );
    Ok(())
}

/// Keyboard reports over one session: Shift pressed and released `n` times (nothing
/// appears on the target), then a `z` tap whose echo on the simulated console shows that
/// the device applied everything before it.
async fn keyboard_throughput(sim: &Simulator, client: &Client, n: usize) -> BoxResult<()> {
    let session = client.ws().await?;
    let press = KeyboardReport::new(Modifiers::LEFT_SHIFT, &[])?;
    let release = KeyboardReport::RELEASE;
    let marker = KeyboardReport::new(Modifiers::NONE, &[Keycode::Z])?;
    // Warm up the socket and the simulator's queue.
    for _ in 0..200 {
        session.keyboard_report(press).await?;
        session.keyboard_report(release).await?;
    }
    let start = Instant::now();
    for i in 0..n {
        let report = if i % 2 == 0 { press } else { release };
        session.keyboard_report(report).await?;
    }
    let sent = start.elapsed();
    session.keyboard_report(marker).await?;
    session.keyboard_report(release).await?;
    sim.wait_for(|m| m.lines().last().is_some_and(|l| l.ends_with('z')))
        .await;
    let applied = start.elapsed();
    #[allow(clippy::cast_precision_loss)]
    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    println!("keyboard reports over one WebSocket session, {n} reports, each awaited:");
    println!(
        "  sent by the client:    {:>9.0} reports/s ({:.1} µs each)",
        rate(sent),
        micros(sent) / f64::from(u32::try_from(n).unwrap_or(u32::MAX))
    );
    println!(
        "  applied by the device: {:>9.0} reports/s   (target >= 5,000)",
        rate(applied)
    );
    drop(session);
    Ok(())
}
