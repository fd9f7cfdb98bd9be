//! A tiny HTTP/1.1 origin server on 127.0.0.1 for the simulator to download from.
//!
//! It serves one payload under several paths, each with a different framing:
//! `/files/<name>` with a `Content-Length`, `/chunked/<name>` chunked, `/redirect/<name>`
//! a 302 to `/files/<name>`, `/slow/<name>` half the payload and then the rest only once
//! the test calls [`Origin::release`], extra files at exact paths (query ignored), and
//! anything else a 404. It records every request line, so tests can check that 2.3.1
//! sends its `HEAD` first.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

pub struct Origin {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<String>>>,
    release: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Origin {
    pub async fn start(payload: Vec<u8>) -> Self {
        Self::with_files(payload, HashMap::new()).await
    }

    /// Also serves `files`, each at its exact path.
    pub async fn with_files(payload: Vec<u8>, files: HashMap<String, Vec<u8>>) -> Self {
        let files = Arc::new(files);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let release = Arc::new(Notify::new());
        let payload = Arc::new(payload);
        let (r, n) = (Arc::clone(&requests), Arc::clone(&release));
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                tokio::spawn(serve(
                    tcp,
                    Arc::clone(&files),
                    Arc::clone(&payload),
                    Arc::clone(&r),
                    Arc::clone(&n),
                ));
            }
        });
        Self {
            addr,
            requests,
            release,
            task,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The request lines received so far, e.g. `HEAD /files/a.iso`.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    /// Lets a `/slow/` answer send its second half.
    pub fn release(&self) {
        self.release.notify_waiters();
        self.release.notify_one();
    }
}

impl Drop for Origin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    tcp: TcpStream,
    files: Arc<HashMap<String, Vec<u8>>>,
    payload: Arc<Vec<u8>>,
    requests: Arc<Mutex<Vec<String>>>,
    release: Arc<Notify>,
) {
    let mut stream = BufReader::new(tcp);
    let mut line = String::new();
    if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
        return;
    }
    loop {
        let mut header = String::new();
        if stream.read_line(&mut header).await.unwrap_or(0) == 0 || header == "\r\n" {
            break;
        }
    }
    let mut words = line.split(' ');
    let method = words.next().unwrap_or("").to_owned();
    let path = words.next().unwrap_or("").to_owned();
    requests.lock().unwrap().push(format!("{method} {path}"));
    let head_only = method == "HEAD";
    let tcp = stream.get_mut();
    let name = path.rsplit('/').next().unwrap_or("").to_owned();
    let fixed = |status: &str, extra: &str, len: usize| {
        format!("HTTP/1.1 {status}\r\n{extra}Content-Length: {len}\r\nConnection: close\r\n\r\n")
    };
    let exact = path.split('?').next().unwrap_or("");
    if let Some(body) = files.get(exact) {
        let _ = tcp
            .write_all(fixed("200 OK", "", body.len()).as_bytes())
            .await;
        if !head_only {
            let _ = tcp.write_all(body).await;
        }
    } else if path.starts_with("/files/") {
        let _ = tcp
            .write_all(fixed("200 OK", "", payload.len()).as_bytes())
            .await;
        if !head_only {
            let _ = tcp.write_all(&payload).await;
        }
    } else if path.starts_with("/redirect/") {
        let location = format!("Location: /files/{name}\r\n");
        let _ = tcp
            .write_all(fixed("302 Found", &location, 0).as_bytes())
            .await;
    } else if path.starts_with("/chunked/") {
        let _ = tcp
            .write_all(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
            )
            .await;
        if !head_only {
            for piece in payload.chunks(1000) {
                let _ = tcp
                    .write_all(format!("{:x};ext=1\r\n", piece.len()).as_bytes())
                    .await;
                let _ = tcp.write_all(piece).await;
                let _ = tcp.write_all(b"\r\n").await;
            }
            let _ = tcp.write_all(b"0\r\nX-Trailer: y\r\n\r\n").await;
        }
    } else if path.starts_with("/slow/") {
        let _ = tcp
            .write_all(fixed("200 OK", "", payload.len()).as_bytes())
            .await;
        if !head_only {
            let half = payload.len() / 2;
            let _ = tcp.write_all(&payload[..half]).await;
            let _ = tcp.flush().await;
            release.notified().await;
            let _ = tcp.write_all(&payload[half..]).await;
        }
    } else {
        let _ = tcp
            .write_all(fixed("404 Not Found", "", 9).as_bytes())
            .await;
        if !head_only {
            let _ = tcp.write_all(b"not found").await;
        }
    }
    let _ = tcp.shutdown().await;
}

/// An address nothing listens on.
pub async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    addr
}
