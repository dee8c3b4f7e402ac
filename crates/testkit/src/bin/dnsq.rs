//! A small DNS tool for the tests and benchmarks (hickory-proto's wire format):
//!
//! - `serve ADDR`: an upstream server on ADDR:53 (UDP and TCP) that answers every A
//!   question with 192.0.2.7 and every AAAA with 2001:db8::7, echoing EDNS;
//! - `query [--tcp] SERVER NAME [TYPE]`: one question (SERVER: an address, port 53, or ADDR:PORT); prints each answer's data, one a
//!   line, then `edns` if the answer carried EDNS, or `rcode X` on an error code;
//! - `load SERVER NAME RATE SECS`: RATE questions a second for SECS seconds over UDP;
//!   prints `sent N answered M p50_us X p99_us Y`.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::str::FromStr;
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA};
use hickory_proto::rr::{Name, RData, Record, RecordType};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    match a.as_slice() {
        ["serve", addr] => serve(addr.parse().expect("address")),
        ["query", "--tcp", server, name, rest @ ..] => query(server, name, rest.first().copied(), true),
        ["query", server, name, rest @ ..] => query(server, name, rest.first().copied(), false),
        ["load", server, name, rate, secs] => {
            load(server, name, rate.parse().expect("rate"), secs.parse().expect("secs"))
        }
        _ => {
            eprintln!("usage: dnsq serve ADDR | query [--tcp] SERVER NAME [TYPE] | load SERVER NAME RATE SECS");
            std::process::exit(2);
        }
    }
}

/// `ADDR` (port 53) or `ADDR:PORT` (`[V6]:PORT`).
fn server_addr(server: &str) -> SocketAddr {
    if let Ok(with_port) = server.parse::<SocketAddr>() {
        return with_port;
    }
    SocketAddr::new(server.parse::<IpAddr>().expect("server address"), 53)
}

fn question(id: u16, name: &str, kind: RecordType) -> Vec<u8> {
    let mut m = Message::new();
    m.set_id(id).set_message_type(MessageType::Query).set_op_code(OpCode::Query).set_recursion_desired(true);
    m.add_query(Query::query(Name::from_str(name).expect("name"), kind));
    let mut edns = Edns::new();
    edns.set_max_payload(1232);
    m.set_edns(edns);
    m.to_vec().expect("encodes")
}

fn query(server: &str, name: &str, kind: Option<&str>, tcp: bool) {
    let kind = kind.map_or(RecordType::A, |k| RecordType::from_str(k).expect("record type"));
    let id = std::process::id() as u16;
    let bytes = question(id, name, kind);
    let answer = if tcp {
        let mut s = TcpStream::connect_timeout(&server_addr(server), Duration::from_secs(3)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
        framed.extend(&bytes);
        s.write_all(&framed).expect("send");
        let mut len = [0u8; 2];
        s.read_exact(&mut len).expect("length");
        let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
        s.read_exact(&mut buf).expect("answer");
        buf
    } else {
        let s = UdpSocket::bind(if server_addr(server).is_ipv6() { "[::]:0" } else { "0.0.0.0:0" }).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.send_to(&bytes, server_addr(server)).expect("send");
        let mut buf = vec![0u8; 65535];
        let (n, _) = s.recv_from(&mut buf).expect("no answer");
        buf.truncate(n);
        buf
    };
    let m = Message::from_vec(&answer).expect("answer parses");
    assert_eq!(m.id(), id, "answer id");
    for r in m.answers() {
        println!("{}", r.data());
    }
    if m.extensions().is_some() {
        println!("edns");
    }
    if m.response_code() != ResponseCode::NoError {
        println!("rcode {}", m.response_code());
        std::process::exit(1);
    }
    if m.answers().is_empty() {
        std::process::exit(1);
    }
}

fn load(server: &str, name: &str, rate: u32, secs: u32) {
    let s = UdpSocket::bind(if server.contains(':') { "[::]:0" } else { "0.0.0.0:0" }).unwrap();
    s.connect(server_addr(server)).unwrap();
    let total = rate * secs;
    let receiver = s.try_clone().unwrap();
    let start = Instant::now();
    let sent_at: std::sync::Arc<Vec<std::sync::atomic::AtomicU64>> =
        std::sync::Arc::new((0..total).map(|_| std::sync::atomic::AtomicU64::new(0)).collect());
    let times = sent_at.clone();
    let reader = std::thread::spawn(move || {
        receiver.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        let mut seen = vec![false; total as usize];
        let mut latencies = Vec::new();
        let mut buf = vec![0u8; 4096];
        while let Ok(n) = receiver.recv(&mut buf) {
            let now = start.elapsed().as_micros() as u64;
            let Ok(m) = Message::from_vec(&buf[..n]) else { continue };
            let i = usize::from(m.id());
            if i < seen.len() && !seen[i] && !m.answers().is_empty() {
                seen[i] = true;
                latencies.push(now.saturating_sub(times[i].load(std::sync::atomic::Ordering::SeqCst)));
            }
            if latencies.len() == seen.len() {
                break;
            }
        }
        latencies
    });
    let step = Duration::from_secs(1) / rate;
    for i in 0..total {
        let due = step * i;
        if let Some(wait) = due.checked_sub(start.elapsed()) {
            std::thread::sleep(wait);
        }
        sent_at[i as usize].store(start.elapsed().as_micros() as u64, std::sync::atomic::Ordering::SeqCst);
        let _ = s.send(&question(i as u16, name, RecordType::A));
    }
    let mut latencies = reader.join().unwrap();
    latencies.sort_unstable();
    let pct = |p: usize| latencies.get(latencies.len().saturating_sub(1) * p / 100).copied().unwrap_or(0);
    println!("sent {total} answered {} p50_us {} p99_us {}", latencies.len(), pct(50), pct(99));
}

fn answer(bytes: &[u8]) -> Option<Vec<u8>> {
    let q = Message::from_vec(bytes).ok()?;
    let mut m = Message::new();
    m.set_id(q.id()).set_message_type(MessageType::Response).set_op_code(OpCode::Query);
    m.set_recursion_desired(q.recursion_desired()).set_recursion_available(true);
    for query in q.queries() {
        m.add_query(query.clone());
        let data = match query.query_type() {
            RecordType::A => RData::A(A(Ipv4Addr::new(192, 0, 2, 7))),
            RecordType::AAAA => RData::AAAA(AAAA(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 7))),
            _ => continue,
        };
        m.add_answer(Record::from_rdata(query.name().clone(), 60, data));
    }
    if q.extensions().is_some() {
        let mut edns = Edns::new();
        edns.set_max_payload(1232);
        m.set_edns(edns);
    }
    m.to_vec().ok()
}

fn serve(addr: IpAddr) {
    let udp = UdpSocket::bind((addr, 53)).expect("bind udp");
    let tcp = TcpListener::bind((addr, 53)).expect("bind tcp");
    std::thread::spawn(move || {
        for stream in tcp.incoming().flatten() {
            std::thread::spawn(move || {
                let mut s = stream;
                let mut len = [0u8; 2];
                while s.read_exact(&mut len).is_ok() {
                    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
                    if s.read_exact(&mut buf).is_err() {
                        return;
                    }
                    let Some(out) = answer(&buf) else { return };
                    let mut framed = (out.len() as u16).to_be_bytes().to_vec();
                    framed.extend(out);
                    if s.write_all(&framed).is_err() {
                        return;
                    }
                }
            });
        }
    });
    println!("ready");
    let mut buf = vec![0u8; 65535];
    loop {
        let Ok((n, from)) = udp.recv_from(&mut buf) else { continue };
        if let Some(out) = answer(&buf[..n]) {
            let _ = udp.send_to(&out, from);
        }
    }
}
