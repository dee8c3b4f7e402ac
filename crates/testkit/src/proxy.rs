//! A small HTTP/1.1 front for a registry that plays what the registry alone cannot: a
//! token server (Bearer challenge, `/token` answering basic credentials with a token),
//! a connection that drops halfway through the first blob download or upload, and a log
//! of the requests it forwarded (`PATCH /v2/...`) for tests that count uploads.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// What the proxy does besides forwarding.
#[derive(Debug, Clone, Default)]
pub struct ProxyMode {
    /// Demand `Authorization: Bearer` tokens, issued at `/token` to this `user:password`.
    pub bearer: Option<String>,
    /// Cut the first blob response after this many bytes of body.
    pub cut_first_blob_after: Option<usize>,
    /// Drop the connection of the first upload (PATCH or PUT with a body longer than
    /// this) after reading this many bytes of its body, forwarding nothing.
    pub cut_first_upload_after: Option<usize>,
}

/// A running proxy on a loopback port; it lives as long as the test process.
pub struct Proxy {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// Blob responses cut so far.
    pub cuts: Arc<AtomicUsize>,
    /// Tokens handed out so far.
    pub tokens: Arc<AtomicUsize>,
    /// `METHOD /path?query` of every request forwarded, in order.
    pub requests: Arc<Mutex<Vec<String>>>,
}

impl Proxy {
    /// The forwarded requests whose `METHOD /path?query` line contains `needle`.
    pub fn requests_with(&self, needle: &str) -> Vec<String> {
        self.requests.lock().unwrap().iter().filter(|r| r.contains(needle)).cloned().collect()
    }
}

const TOKEN: &str = "lindocker-test-token";

impl Proxy {
    /// Starts a proxy in front of the registry at `upstream`.
    pub fn start(upstream: &str, mode: ProxyMode) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (cuts, tokens) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let cut_done = Arc::new(AtomicBool::new(false));
        let (upstream, me) = (upstream.to_owned(), addr.clone());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (c, t, r) = (cuts.clone(), tokens.clone(), requests.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (upstream, me, mode, c, t, cut_done) =
                    (upstream.clone(), me.clone(), mode.clone(), c.clone(), t.clone(), cut_done.clone());
                let r = r.clone();
                std::thread::spawn(move || {
                    let counters = Counters { cuts: &c, tokens: &t, cut_done: &cut_done, requests: &r };
                    let _ = serve(conn, &upstream, &me, &mode, &counters);
                });
            }
        });
        Proxy { addr, cuts, tokens, requests }
    }
}

struct Counters<'a> {
    cuts: &'a AtomicUsize,
    tokens: &'a AtomicUsize,
    cut_done: &'a AtomicBool,
    requests: &'a Mutex<Vec<String>>,
}

/// Reads a request body as its headers announce it (length or chunked), whole.
fn read_body(reader: &mut impl BufRead, header: &dyn Fn(&str) -> Option<String>) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16).unwrap_or(0);
            let mut chunk = vec![0; n + 2];
            reader.read_exact(&mut chunk)?;
            if n == 0 {
                return Ok(body);
            }
            body.extend_from_slice(&chunk[..n]);
        }
    }
    let n: usize = header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    body.resize(n, 0);
    reader.read_exact(&mut body)?;
    Ok(body)
}

fn serve(mut conn: TcpStream, upstream: &str, me: &str, mode: &ProxyMode, counters: &Counters) -> std::io::Result<()> {
    let Counters { cuts, tokens, cut_done, requests } = *counters;
    let mut reader = BufReader::new(conn.try_clone()?);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line)?;
            if line == "\r\n" || line.is_empty() {
                break;
            }
            headers.push(line.trim_end().to_owned());
        }
        let header = |name: &str| {
            headers.iter().find_map(|h| {
                h.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim().to_owned())
            })
        };
        let path = request_line.split_whitespace().nth(1).unwrap_or("/").to_owned();
        if let Some(creds) = &mode.bearer {
            use base64::Engine;
            let encode = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
            if path.starts_with("/token") {
                if header("authorization") == Some(format!("Basic {}", encode(creds.as_bytes()))) {
                    tokens.fetch_add(1, Ordering::Relaxed);
                    let body = format!(r#"{{"token":"{TOKEN}","access_token":"{TOKEN}","expires_in":300}}"#);
                    write!(
                        conn,
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    )?;
                } else {
                    write!(conn, "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")?;
                }
                continue;
            }
            if header("authorization") != Some(format!("Bearer {TOKEN}")) {
                let body = r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#;
                write!(
                    conn,
                    "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"http://{me}/token\",service=\"test\"\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                )?;
                continue;
            }
        }
        let method = request_line.split_whitespace().next().unwrap_or("").to_owned();
        let announced: usize = header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
        if let Some(after) = mode.cut_first_upload_after
            && (method == "PATCH" || method == "PUT")
            && announced > after
            && !cut_done.swap(true, Ordering::SeqCst)
        {
            let mut part = vec![0; after];
            reader.read_exact(&mut part)?;
            cuts.fetch_add(1, Ordering::Relaxed);
            let _ = conn.shutdown(Shutdown::Both);
            return Ok(());
        }
        let body = read_body(&mut reader, &header)?;
        requests.lock().unwrap().push(format!("{method} {path}"));
        // Forward, one request per upstream connection.
        let mut up = TcpStream::connect(upstream)?;
        let mut head = request_line.clone();
        for h in &headers {
            let lower = h.to_ascii_lowercase();
            if !["authorization:", "connection:", "host:", "content-length:", "transfer-encoding:"]
                .iter()
                .any(|p| lower.starts_with(p))
            {
                head.push_str(h);
                head.push_str("\r\n");
            }
        }
        if !body.is_empty() || method == "PUT" || method == "PATCH" || method == "POST" {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str(&format!("Host: {upstream}\r\nConnection: close\r\n\r\n"));
        up.write_all(head.as_bytes())?;
        up.write_all(&body)?;
        let mut response = Vec::new();
        up.read_to_end(&mut response)?;
        let body_start = response.windows(4).position(|w| w == b"\r\n\r\n").map_or(0, |p| p + 4);
        // Upload locations name the registry; the client must come back here.
        let head = String::from_utf8_lossy(&response[..body_start])
            .replace(&format!("http://{upstream}"), &format!("http://{me}"));
        let response = [head.as_bytes(), &response[body_start..]].concat();
        let body_start = head.len();
        // Only a blob long enough to be cut (a layer, not the small config) counts.
        if let Some(after) = mode.cut_first_blob_after
            && path.contains("/blobs/")
            && response.len() - body_start > after
            && !cut_done.swap(true, Ordering::SeqCst)
        {
            conn.write_all(&response[..body_start + after])?;
            cuts.fetch_add(1, Ordering::Relaxed);
            let _ = conn.shutdown(Shutdown::Both);
            return Ok(());
        }
        // The registry said `Connection: close`; say it too, and close.
        conn.write_all(&response)?;
        let _ = conn.shutdown(Shutdown::Both);
        return Ok(());
    }
}
