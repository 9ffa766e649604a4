//! A minimal HTTP/1.1 load generator (keep-alive, fixed concurrency, fixed
//! duration), run from this process against `toolbox-local` in another.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

pub struct Load {
    pub requests: usize,
    pub errors: usize,
    pub rps: f64,
    pub p50: Duration,
    pub p99: Duration,
}

/// How a request authenticates.
#[derive(Debug, Clone, Copy)]
pub enum Credential<'a> {
    Bearer(&'a str),
    ApiKey(&'a str),
}

/// One request on an open connection: the status and the body.
pub async fn request(
    stream: &mut BufReader<TcpStream>,
    method: &str,
    path: &str,
    credential: Option<Credential<'_>>,
    body: Option<&str>,
) -> std::io::Result<(u16, String)> {
    request_with(stream, method, path, credential, body, "").await
}

/// [`request`] with more header lines (each ending in CRLF).
pub async fn request_with(
    stream: &mut BufReader<TcpStream>,
    method: &str,
    path: &str,
    credential: Option<Credential<'_>>,
    body: Option<&str>,
    headers: &str,
) -> std::io::Result<(u16, String)> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: bench\r\n{headers}");
    match credential {
        Some(Credential::Bearer(token)) => head.push_str(&format!("Authorization: Bearer {token}\r\n")),
        Some(Credential::ApiKey(key)) => head.push_str(&format!("X-API-Key: {key}\r\n")),
        None => {}
    }
    let body = body.unwrap_or_default();
    if !body.is_empty() {
        head.push_str(&format!("Content-Type: application/json\r\nContent-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    stream.get_mut().write_all(head.as_bytes()).await?;
    stream.get_mut().write_all(body.as_bytes()).await?;

    let mut status_line = String::new();
    stream.read_line(&mut status_line).await?;
    let status = status_line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        stream.read_line(&mut line).await?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut payload = vec![0; length];
    stream.read_exact(&mut payload).await?;
    Ok((status, String::from_utf8_lossy(&payload).into_owned()))
}

pub async fn connect(addr: SocketAddr) -> std::io::Result<BufReader<TcpStream>> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(BufReader::new(stream))
}

pub async fn run(
    addr: SocketAddr,
    path: &str,
    credential: Option<Credential<'static>>,
    headers: &'static str,
    concurrency: usize,
    duration: Duration,
) -> Load {
    let started = Instant::now();
    let deadline = started + duration;
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let path = path.to_owned();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0;
            let Ok(mut stream) = connect(addr).await else { return (latencies, 1) };
            while Instant::now() < deadline {
                let sent = Instant::now();
                match request_with(&mut stream, "GET", &path, credential, None, headers).await {
                    Ok((200, _)) => latencies.push(sent.elapsed()),
                    Ok(_) => errors += 1,
                    Err(_) => {
                        errors += 1;
                        match connect(addr).await {
                            Ok(fresh) => stream = fresh,
                            Err(_) => break,
                        }
                    }
                }
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for worker in workers {
        if let Ok((mut l, e)) = worker.await {
            latencies.append(&mut l);
            errors += e;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    Load {
        requests: latencies.len(),
        errors,
        rps: latencies.len() as f64 / elapsed,
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
    }
}

pub fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}
