//! Container ids (64 hex digits, Docker's format) and generated names.

use sha2::{Digest, Sha256};

/// A new random id: 64 lowercase hex digits.
pub fn new_id() -> String {
    let mut seed = [0u8; 32];
    if rustix::rand::getrandom(&mut seed, rustix::rand::GetRandomFlags::empty()).is_err() {
        seed[..16].copy_from_slice(
            &std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos()
                .to_le_bytes(),
        );
    }
    format!("{:x}", Sha256::digest(seed))
}

const ADJECTIVES: [&str; 24] = [
    "admiring",
    "brave",
    "clever",
    "dazzling",
    "eager",
    "focused",
    "gallant",
    "happy",
    "inspiring",
    "jolly",
    "keen",
    "loving",
    "modest",
    "nifty",
    "optimistic",
    "peaceful",
    "quirky",
    "relaxed",
    "serene",
    "tender",
    "upbeat",
    "vibrant",
    "wizardly",
    "zealous",
];
const SCIENTISTS: [&str; 24] = [
    "albattani",
    "babbage",
    "curie",
    "darwin",
    "euclid",
    "faraday",
    "galileo",
    "hopper",
    "hypatia",
    "joliot",
    "kepler",
    "lovelace",
    "meitner",
    "newton",
    "noether",
    "pasteur",
    "ritchie",
    "shannon",
    "thompson",
    "turing",
    "volta",
    "wozniak",
    "yalow",
    "zuse",
];

/// A Docker-style name (`adjective_scientist`), derived from `id`; `attempt` varies it
/// when the first choice is taken.
pub fn generated_name(id: &str, attempt: u32) -> String {
    let bytes = id.as_bytes();
    let a = usize::from(bytes[0]) * 7 + usize::from(bytes[1]);
    let b = usize::from(bytes[2]) * 11 + usize::from(bytes[3]);
    let base = format!("{}_{}", ADJECTIVES[a % ADJECTIVES.len()], SCIENTISTS[b % SCIENTISTS.len()]);
    if attempt == 0 { base } else { format!("{base}{attempt}") }
}

/// Whether `name` is a valid container name (Docker: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`).
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.len() >= 2
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}
