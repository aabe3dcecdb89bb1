//! A minimal HTTP/1.1 client over std TCP, so the client's own cost is small and identical for
//! every server measured. One connection per request (`Connection: close`): the response ends at
//! EOF, which keeps timing exact without trusting the server's framing.

use crate::args::Args;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Target {
    addr: String,
    request: Vec<u8>,
    /// Must appear in the (de-chunked) body, e.g. `[DONE]`, so a failed stream never counts.
    expect: String,
}

impl Target {
    fn from_args(args: &Args) -> Result<Target, String> {
        let addr = args.required("addr")?.to_string();
        let path = args.required("path")?;
        let body = args.file("body")?;
        let mut request = format!(
            "POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
             content-length: {}\r\nconnection: close\r\n",
            body.len()
        );
        for header in args.all("header") {
            request.push_str(header);
            request.push_str("\r\n");
        }
        request.push_str("\r\n");
        let mut request = request.into_bytes();
        request.extend_from_slice(&body);
        Ok(Target {
            addr,
            request,
            expect: args.get("expect").unwrap_or("").to_string(),
        })
    }
}

struct Timing {
    first: Duration,
    total: Duration,
    body_bytes: usize,
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(data.len());
    loop {
        let line_end = find(data, b"\r\n").ok_or("chunked body cut short")?;
        let size_text = std::str::from_utf8(data.get(..line_end).unwrap_or_default())
            .map_err(|_| "bad chunk size")?;
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        data = data.get(line_end + 2..).unwrap_or_default();
        if size == 0 {
            return Ok(out);
        }
        out.extend_from_slice(data.get(..size).ok_or("chunk cut short")?);
        data = data.get(size + 2..).ok_or("chunk cut short")?;
    }
}

/// One request; `on_first` runs once the first body bytes arrived.
fn exchange(target: &Target, on_first: impl FnOnce()) -> Result<Timing, String> {
    let start = Instant::now();
    let mut socket = TcpStream::connect(&target.addr).map_err(|e| format!("connect: {e}"))?;
    socket.set_nodelay(true).map_err(|e| e.to_string())?;
    socket
        .set_read_timeout(Some(Duration::from_secs(120)))
        .map_err(|e| e.to_string())?;
    socket
        .write_all(&target.request)
        .map_err(|e| format!("write: {e}"))?;
    let mut data = Vec::with_capacity(1 << 16);
    let mut buf = vec![0u8; 1 << 16];
    let mut head_end = None;
    let mut first = None;
    let mut on_first = Some(on_first);
    loop {
        let n = socket.read(&mut buf).map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            break;
        }
        data.extend_from_slice(buf.get(..n).unwrap_or_default());
        if head_end.is_none() {
            head_end = find(&data, b"\r\n\r\n").map(|p| p + 4);
        }
        if let (None, Some(h)) = (first, head_end) {
            if data.len() > h {
                first = Some(start.elapsed());
                if let Some(f) = on_first.take() {
                    f();
                }
            }
        }
    }
    let total = start.elapsed();
    let head_end = head_end.ok_or("no response head")?;
    let head = String::from_utf8_lossy(data.get(..head_end).unwrap_or_default()).to_lowercase();
    let status = head.split_whitespace().nth(1).unwrap_or("");
    let raw = data.get(head_end..).unwrap_or_default();
    let body = if head.contains("\r\ntransfer-encoding: chunked") {
        dechunk(raw)?
    } else {
        raw.to_vec()
    };
    if status != "200" {
        return Err(format!(
            "status {status}: {}",
            String::from_utf8_lossy(body.get(..body.len().min(300)).unwrap_or_default())
        ));
    }
    if !target.expect.is_empty() && find(&body, target.expect.as_bytes()).is_none() {
        return Err(format!("body lacks {:?}", target.expect));
    }
    Ok(Timing {
        first: first.unwrap_or(total),
        total,
        body_bytes: body.len(),
    })
}

fn micros(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e7).round() / 10.0
}

/// Sequential requests: prints {"first_us": [...], "total_us": [...], "body_bytes": n}.
pub fn stream(args: &Args) -> Result<(), String> {
    let target = Target::from_args(args)?;
    for _ in 0..args.number("warmup", 2)? {
        exchange(&target, || {})?;
    }
    let (mut first, mut total, mut bytes) = (Vec::new(), Vec::new(), 0);
    for _ in 0..args.number("count", 20)? {
        let t = exchange(&target, || {})?;
        first.push(micros(t.first));
        total.push(micros(t.total));
        bytes = t.body_bytes;
    }
    println!(
        "{}",
        serde_json::json!({"first_us": first, "total_us": total, "body_bytes": bytes})
    );
    Ok(())
}

/// `--count` concurrent streams. Prints `ready N` once every stream has its first bytes (the
/// caller samples memory then), and a JSON summary when all have ended.
pub fn hold(args: &Args) -> Result<(), String> {
    let target = Arc::new(Target::from_args(args)?);
    let count = usize::try_from(args.number("count", 1000)?).map_err(|e| e.to_string())?;
    let started = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(Mutex::new(Vec::new()));
    let mut threads = Vec::with_capacity(count);
    for _ in 0..count {
        let (target, started, failed, errors) =
            (target.clone(), started.clone(), failed.clone(), errors.clone());
        let spawned = std::thread::Builder::new()
            .stack_size(128 * 1024)
            .spawn(move || {
                let result = exchange(&target, || {
                    started.fetch_add(1, Ordering::SeqCst);
                });
                if let Err(e) = result {
                    failed.fetch_add(1, Ordering::SeqCst);
                    if let Ok(mut list) = errors.lock() {
                        list.push(e);
                    }
                }
            })
            .map_err(|e| format!("spawn: {e}"))?;
        threads.push(spawned);
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while started.load(Ordering::SeqCst) + failed.load(Ordering::SeqCst) < count
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    println!("ready {}", started.load(Ordering::SeqCst));
    std::io::stdout().flush().map_err(|e| e.to_string())?;
    for t in threads {
        let _ = t.join();
    }
    let errors = errors.lock().map(|e| e.iter().take(3).cloned().collect::<Vec<_>>());
    println!(
        "{}",
        serde_json::json!({
            "streams": count,
            "started": started.load(Ordering::SeqCst),
            "failed": failed.load(Ordering::SeqCst),
            "errors": errors.unwrap_or_default(),
        })
    );
    Ok(())
}
