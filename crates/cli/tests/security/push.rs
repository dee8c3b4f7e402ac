//! A hostile registry against the credentials a push carries: the registry answers the
//! upload with a `Location` on another origin (another port here; another host or plain
//! HTTP alike). Docker's distribution client adds credentials only for the registry that
//! challenged for them; the push must not hand the user's password to whoever the
//! registry names.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use lindocker_testkit::Engine;
use lindocker_testkit::image::{self, Entry};

const BIN: &str = env!("CARGO_BIN_EXE_lindocker");

/// Reads one request's head (request line and headers, lowercased names); None at EOF.
fn read_head(reader: &mut BufReader<TcpStream>) -> Option<Vec<String>> {
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end().to_owned();
        if line.is_empty() {
            return Some(lines);
        }
        lines.push(line);
    }
}

fn has_authorization(head: &[String]) -> bool {
    head.iter().skip(1).any(|h| h.to_ascii_lowercase().starts_with("authorization:"))
}

/// Serves `answer(head)` for each request on each connection to `listener`.
fn serve(listener: TcpListener, answer: impl Fn(&[String]) -> String + Send + Sync + 'static) {
    let answer = Arc::new(answer);
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let answer = answer.clone();
            std::thread::spawn(move || {
                let mut writer = conn.try_clone().unwrap();
                let mut reader = BufReader::new(conn);
                while let Some(head) = read_head(&mut reader) {
                    if writer.write_all(answer(&head).as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
}

#[test]
fn an_upload_location_on_another_origin_gets_no_credentials() {
    // Where the registry sends the upload: it records what it is sent.
    let elsewhere = TcpListener::bind("127.0.0.1:0").unwrap();
    let elsewhere_addr = elsewhere.local_addr().unwrap().to_string();
    let seen: Arc<Mutex<Vec<Vec<String>>>> = Arc::default();
    let log = seen.clone();
    serve(elsewhere, move |head| {
        log.lock().unwrap().push(head.to_vec());
        "HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_owned()
    });

    // The registry: basic auth, no blobs, every upload sent elsewhere.
    let registry = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = registry.local_addr().unwrap().to_string();
    let target = format!("http://{elsewhere_addr}/v2/test/x/blobs/uploads/1");
    serve(registry, move |head| {
        let request = head[0].clone();
        if !has_authorization(head) {
            "HTTP/1.1 401 Unauthorized\r\nwww-authenticate: Basic realm=\"test\"\r\ncontent-length: 0\r\n\r\n"
                .to_owned()
        } else if request.starts_with("GET /v2/ ") {
            "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}".to_owned()
        } else if request.starts_with("POST ") && request.contains("/blobs/uploads/") {
            format!("HTTP/1.1 202 Accepted\r\nlocation: {target}\r\ncontent-length: 0\r\n\r\n")
        } else {
            "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n".to_owned()
        }
    });

    let engine = Engine::new(BIN, "push-location");
    let tar = engine.root.join("layer.tar");
    std::fs::write(&tar, image::layer(&[Entry::File("f".into(), b"secret layer".to_vec(), 0o644)])).unwrap();
    let name = format!("{addr}/test/x:t");
    engine.ok(&["import", tar.to_str().unwrap(), &name]);
    engine.ok(&["login", "-u", "alice", "-p", "s3cret", &addr]);

    let out = engine.run(&["push", &name]);
    let seen = seen.lock().unwrap().clone();
    assert!(!seen.is_empty(), "the push never went to the upload location: {out:?}");
    for head in &seen {
        assert!(!has_authorization(head), "credentials sent to another origin: {head:?}");
    }
}

/// A registry that refuses the upload with an endless error body: the push reads a
/// bounded part of it (it is only an error message) and fails, under a 1 GiB
/// address-space limit, instead of holding the whole body in memory.
#[test]
fn an_endless_error_body_is_not_read_whole() {
    let registry = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = registry.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for conn in registry.incoming().flatten() {
            std::thread::spawn(move || {
                let mut writer = conn.try_clone().unwrap();
                let mut reader = BufReader::new(conn);
                while let Some(head) = read_head(&mut reader) {
                    let request = &head[0];
                    let answer = if request.starts_with("GET /v2/ ") {
                        "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"
                    } else if request.starts_with("POST ") {
                        let total: u64 = 3 << 29; // 1.5 GiB
                        let head = format!("HTTP/1.1 400 Bad Request\r\ncontent-length: {total}\r\n\r\n");
                        if writer.write_all(head.as_bytes()).is_err() {
                            return;
                        }
                        let chunk = vec![b'a'; 1 << 20];
                        for _ in 0..(total >> 20) {
                            if writer.write_all(&chunk).is_err() {
                                return;
                            }
                        }
                        return;
                    } else {
                        "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"
                    };
                    if writer.write_all(answer.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });

    let engine = Engine::new(BIN, "push-endless");
    let tar = engine.root.join("layer.tar");
    std::fs::write(&tar, image::layer(&[Entry::File("f".into(), b"layer".to_vec(), 0o644)])).unwrap();
    let name = format!("{addr}/test/x:t");
    engine.ok(&["import", tar.to_str().unwrap(), &name]);
    let mut cmd = std::process::Command::new("prlimit");
    cmd.arg(format!("--as={}", 1u64 << 30)).arg("--").arg(BIN).arg("--root").arg(&engine.root);
    cmd.env("LINDOCKER_STATE", &engine.state)
        .env("LINDOCKER_CONFIG", engine.root.join("config"))
        .args(["push", &name])
        .stdin(std::process::Stdio::null());
    let out = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "the push did not fail cleanly: {:?} {err}", out.status);
}
