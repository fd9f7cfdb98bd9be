//! MJPEG benchmark: frames per second served at 1080p to 1 and to 20 clients over
//! 127.0.0.1, the CPU time a static screen costs, and resident memory.
//!
//! Run with `cargo bench -p nanokvm-sim --bench mjpeg`. It prints figures and never
//! asserts on them; the targets it reports against are 30 fps to 20 clients, near-zero
//! encoding work while the screen is static, and under 64 MiB resident. Each phase
//! lasts `MJPEG_BENCH_SECS` seconds (default 3). With `MJPEG_BENCH_SCREENSHOT=FILE` the
//! 1080p screenshot is also written to `FILE`, to look at the font.

// A benchmark reports on stdout; that is its whole purpose.
#![allow(clippy::print_stdout)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::SinkExt;
use nanokvm_sim::{MachineConfig, Simulator, TimeScale};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

type Ws = tokio_tungstenite::WebSocketStream<TcpStream>;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run())
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let secs = std::env::var("MJPEG_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| *s > 0.0)
        .unwrap_or(3.0);
    let phase = Duration::from_secs_f64(secs);
    let sim = Simulator::builder()
        .authentication(false)
        .resolution(1920, 1080)
        .time_scale(TimeScale::REAL)
        .machine(MachineConfig::new().logged_in(true))
        .start()
        .await?;
    println!(
        "nanokvm-sim MJPEG benchmark: 1920x1080, quality 80, 30 fps ticks, {secs} s per phase"
    );
    println!("(\"served\" counts parts each client read in full off its socket)");
    println!();

    // Put a realistic console on screen: commands and their output.
    let mut ws = connect_ws(sim.addr()).await?;
    type_text(&mut ws, "uname -a\nls /\ncat /etc/os-release\n").await?;
    sim.wait_for(|m| {
        m.screen_text()
            .ends_with("(preinstalled)\"\nuser@target:~$ ")
    })
    .await;
    let t = Instant::now();
    let shot = sim.screenshot();
    println!(
        "one 1080p render + encode: {:.1} ms, JPEG {} KiB",
        t.elapsed().as_secs_f64() * 1e3,
        shot.jpeg().len() / 1024
    );
    if let Ok(path) = std::env::var("MJPEG_BENCH_SCREENSHOT") {
        std::fs::write(&path, shot.jpeg())?;
        println!("screenshot written to {path}");
    }
    println!();

    for clients in [1, 20] {
        let r = serve(&sim, clients, phase, None, true).await?;
        report(
            &format!("static screen, {clients:>2} client(s)"),
            clients,
            &r,
        );
    }
    let r = serve(&sim, 20, phase, Some(&mut ws), true).await?;
    report("changing screen (pointer moves), 20 clients", 20, &r);
    println!();

    // The last pointer move may still be encoding; a benchmark may simply wait.
    tokio::time::sleep(Duration::from_millis(300)).await;
    // CPU while static: no clients at all, then one client with frame detection on
    // (the firmware's mode for a static screen: no parts at all).
    let idle = cpu_during(&sim, phase, async { tokio::time::sleep(phase).await }).await;
    println!(
        "static, no client:                    CPU {:>5.1} % of one core, {} encodes",
        idle.cpu_percent, idle.encodes
    );
    set_detect(sim.addr(), true).await?;
    // A static screen with detection on publishes nothing to wait for.
    let r = serve(&sim, 1, phase, None, false).await?;
    println!(
        "static, 1 client, frame detection on: CPU {:>5.1} % of one core, {} encodes, {} parts",
        r.cpu_percent, r.encodes, r.frames
    );
    set_detect(sim.addr(), false).await?;
    let r = serve(&sim, 1, phase, None, true).await?;
    println!(
        "static, 1 client, detection off:      CPU {:>5.1} % of one core, {} encodes, {} parts",
        r.cpu_percent, r.encodes, r.frames
    );
    println!();
    let (rss, peak) = memory();
    println!(
        "resident memory: {:.1} MiB now, {:.1} MiB peak (VmHWM) (target < 64 MiB)",
        rss as f64 / 1024.0,
        peak as f64 / 1024.0
    );
    ws.close(None).await.ok();
    sim.shutdown().await?;
    Ok(())
}

/// What one phase measured.
struct Phase {
    /// Parts read by all clients in the window.
    frames: u64,
    bytes: u64,
    elapsed: Duration,
    encodes: u64,
    cpu_percent: f64,
}

fn report(name: &str, clients: u64, r: &Phase) {
    let secs = r.elapsed.as_secs_f64();
    let per_client = r.frames as f64 / secs / clients as f64;
    println!(
        "{name:<44} {per_client:>5.1} fps per client, {:>6.1} frames/s total, {:>6.1} MiB/s, \
         {:>5.1} encodes/s, CPU {:>5.1} % of one core (target 30 fps)",
        r.frames as f64 / secs,
        r.bytes as f64 / secs / 1_048_576.0,
        r.encodes as f64 / secs,
        r.cpu_percent,
    );
}

/// Runs `clients` MJPEG readers for `phase` (after each has its first frame) and counts
/// what they read. With `mover`, the pointer moves every 10 ms so every frame changes.
async fn serve(
    sim: &Simulator,
    clients: u64,
    phase: Duration,
    mover: Option<&mut Ws>,
    warm_up: bool,
) -> Result<Phase, Box<dyn std::error::Error>> {
    let frames = Arc::new(AtomicU64::new(0));
    let bytes = Arc::new(AtomicU64::new(0));
    let counting = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (frames, bytes, counting, stop) = (
            Arc::clone(&frames),
            Arc::clone(&bytes),
            Arc::clone(&counting),
            Arc::clone(&stop),
        );
        let addr = sim.addr();
        tasks.push(tokio::spawn(async move {
            let mut reader = Reader::open(addr).await?;
            while !stop.load(Ordering::Relaxed) {
                let len = reader.part().await?;
                if counting.load(Ordering::Relaxed) {
                    frames.fetch_add(1, Ordering::Relaxed);
                    bytes.fetch_add(len as u64, Ordering::Relaxed);
                }
            }
            Ok::<_, std::io::Error>(())
        }));
    }
    let n = usize::try_from(clients).unwrap_or(usize::MAX);
    sim.wait_for_video(|v| v.clients >= n).await;
    if warm_up {
        // Let every client see a first frame before counting.
        let first = sim.video_stats().frames;
        sim.wait_for_video(|v| v.frames >= first + 2).await;
    }
    let measured = cpu_during(sim, phase, async {
        counting.store(true, Ordering::Relaxed);
        match mover {
            Some(ws) => {
                let end = Instant::now() + phase;
                let mut i = 0u16;
                while Instant::now() < end {
                    i = i.wrapping_add(97);
                    let [xl, xh] = (i % 0x7FFF).to_le_bytes();
                    let _ = ws
                        .send(Message::binary(vec![2, 0, xl, xh, 0x00, 0x40, 0]))
                        .await;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
            None => tokio::time::sleep(phase).await,
        }
        counting.store(false, Ordering::Relaxed);
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.abort();
    }
    sim.wait_for_video(|v| v.clients == 0).await;
    Ok(Phase {
        frames: frames.load(Ordering::Relaxed),
        bytes: bytes.load(Ordering::Relaxed),
        ..measured
    })
}

/// CPU time and encodes while `work` runs.
async fn cpu_during(sim: &Simulator, _phase: Duration, work: impl Future<Output = ()>) -> Phase {
    let (cpu0, enc0, t0) = (cpu_ticks(), sim.video_stats().encodes, Instant::now());
    work.await;
    let (cpu1, enc1, elapsed) = (cpu_ticks(), sim.video_stats().encodes, t0.elapsed());
    // /proc counts in USER_HZ, which is 100 on every Linux configuration in use.
    let cpu = (cpu1.saturating_sub(cpu0)) as f64 / 100.0;
    Phase {
        frames: 0,
        bytes: 0,
        elapsed,
        encodes: enc1 - enc0,
        cpu_percent: cpu / elapsed.as_secs_f64() * 100.0,
    }
}

/// utime + stime of this process, in clock ticks.
fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may contain spaces) start at field 3.
    let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| {
        fields
            .get(n - 3)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(14) + field(15)
}

/// VmRSS and VmHWM in KiB.
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let get = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (get("VmRSS:"), get("VmHWM:"))
}

async fn set_detect(addr: SocketAddr, on: bool) -> std::io::Result<()> {
    let body = format!("{{\"enabled\":{on}}}");
    let mut tcp = TcpStream::connect(addr).await?;
    let req = format!(
        "POST /api/stream/mjpeg/detect HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    tcp.write_all(req.as_bytes()).await?;
    let mut answer = Vec::new();
    tcp.read_to_end(&mut answer).await?;
    Ok(())
}

async fn connect_ws(addr: SocketAddr) -> Result<Ws, Box<dyn std::error::Error>> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let tcp = TcpStream::connect(addr).await?;
    let req = format!("ws://{addr}/api/ws").into_client_request()?;
    let (ws, _) = tokio_tungstenite::client_async(req, tcp).await?;
    Ok(ws)
}

/// Types ASCII text with US keyboard reports over the HID WebSocket.
async fn type_text(ws: &mut Ws, text: &str) -> Result<(), Box<dyn std::error::Error>> {
    for c in text.chars() {
        let (shift, usage) = match c {
            'a'..='z' => (false, 0x04 + (c as u8 - b'a')),
            '1'..='9' => (false, 0x1E + (c as u8 - b'1')),
            '0' => (false, 0x27),
            '\n' => (false, 0x28),
            ' ' => (false, 0x2C),
            '-' => (false, 0x2D),
            '.' => (false, 0x37),
            '/' => (false, 0x38),
            '_' => (true, 0x2D),
            'A'..='Z' => (true, 0x04 + (c as u8 - b'A')),
            _ => continue,
        };
        let modifiers = if shift { 0x02 } else { 0 };
        ws.send(Message::binary(vec![1, modifiers, 0, usage, 0, 0, 0, 0, 0]))
            .await?;
        ws.send(Message::binary(vec![1, 0, 0, 0, 0, 0, 0, 0, 0]))
            .await?;
    }
    Ok(())
}

/// A raw MJPEG reader that de-chunks the body and walks parts by Content-Length.
struct Reader {
    tcp: TcpStream,
    raw: Vec<u8>,
    /// Decoded body bytes not yet consumed.
    body: Vec<u8>,
    /// Bytes left in the current chunk.
    chunk_left: usize,
}

impl Reader {
    async fn open(addr: SocketAddr) -> std::io::Result<Self> {
        let mut tcp = TcpStream::connect(addr).await?;
        let req = format!("GET /api/stream/mjpeg HTTP/1.1\r\nHost: {addr}\r\n\r\n");
        tcp.write_all(req.as_bytes()).await?;
        let mut r = Self {
            tcp,
            raw: Vec::with_capacity(1 << 20),
            body: Vec::with_capacity(1 << 20),
            chunk_left: 0,
        };
        loop {
            if let Some(i) = find(&r.raw, b"\r\n\r\n") {
                r.raw.drain(..i + 4);
                return Ok(r);
            }
            r.read_more().await?;
        }
    }

    async fn read_more(&mut self) -> std::io::Result<()> {
        let mut buf = [0u8; 256 * 1024];
        let n = self.tcp.read(&mut buf).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        self.raw.extend_from_slice(&buf[..n]);
        Ok(())
    }

    /// Moves complete chunk data from `raw` to `body`.
    fn dechunk(&mut self) {
        let mut pos = 0;
        loop {
            if self.chunk_left > 0 {
                let take = self.chunk_left.min(self.raw.len() - pos);
                self.body.extend_from_slice(&self.raw[pos..pos + take]);
                pos += take;
                self.chunk_left -= take;
                if self.chunk_left > 0 {
                    break;
                }
            }
            // Between chunks: the CRLF ending the previous one (if any), then a size line.
            let rest = &self.raw[pos..];
            let skip = if rest.starts_with(b"\r\n") { 2 } else { 0 };
            let Some(eol) = find(&rest[skip..], b"\r\n") else {
                break;
            };
            let line = std::str::from_utf8(&rest[skip..skip + eol]).unwrap_or("0");
            self.chunk_left = usize::from_str_radix(line, 16).unwrap_or(0);
            pos += skip + eol + 2;
            if self.chunk_left == 0 {
                break;
            }
        }
        self.raw.drain(..pos);
    }

    async fn fill(&mut self, n: usize) -> std::io::Result<()> {
        loop {
            self.dechunk();
            if self.body.len() >= n {
                return Ok(());
            }
            self.read_more().await?;
        }
    }

    /// Reads one whole part; returns the JPEG's length.
    async fn part(&mut self) -> std::io::Result<usize> {
        let head_end = loop {
            if let Some(i) = find(&self.body, b"\r\n\r\n") {
                break i;
            }
            let more = self.body.len() + 1;
            self.fill(more).await?;
        };
        let head = std::str::from_utf8(&self.body[..head_end]).unwrap_or("");
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .and_then(|v| v.parse().ok())
            .ok_or(std::io::ErrorKind::InvalidData)?;
        let end = head_end + 4 + len + 2;
        self.fill(end).await?;
        self.body.drain(..end);
        Ok(len)
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
