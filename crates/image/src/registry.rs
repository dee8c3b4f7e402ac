//! Pulling from a registry (OCI distribution spec) and checking a login.
//!
//! The HTTP side (token challenges, basic auth, manifests, blob streams) is oci-client's;
//! this module decides what to fetch, verifies every digest itself, and streams each
//! layer at once into the blob store and the unpacker, so nothing is buffered whole and
//! nothing becomes visible before its digest checks.

use std::io::{self, Read};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::manifest::OciDescriptor;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use oci_spec::image::{ImageConfiguration, ImageIndex, ImageManifest};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use crate::progress::{LayerProgress, Progress};
use crate::store::{ImageRecord, Store};
use crate::{ImageError, auth, reference};

/// Manifest kinds we accept, most wanted first.
const MANIFEST_TYPES: [&str; 4] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];

/// How many times a layer download starts over after the connection drops.
const ATTEMPTS: u32 = 3;
/// The most an image config may hold (Docker's and containerd's configs are kilobytes).
const MAX_CONFIG: u64 = 16 << 20;
/// Layers downloaded at once, as Docker's default `max-concurrent-downloads`: a manifest
/// with thousands of layers must not open thousands of connections.
const CONCURRENT_LAYERS: usize = 3;

/// A platform, `os/arch[/variant]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    /// `linux`.
    pub os: String,
    /// `amd64`, `arm64`, ...
    pub architecture: String,
    /// `v8`, `v7`, ...
    pub variant: Option<String>,
}

impl Platform {
    /// The platform this binary runs on.
    pub fn host() -> Platform {
        let architecture = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "powerpc64" => "ppc64le",
            other => other,
        };
        Platform { os: "linux".into(), architecture: architecture.into(), variant: None }
    }

    /// Parses `linux/amd64` or `linux/arm64/v8`.
    pub fn parse(text: &str) -> Result<Platform, ImageError> {
        let parts: Vec<&str> = text.split('/').collect();
        match parts.as_slice() {
            [os, arch] if !os.is_empty() && !arch.is_empty() => {
                Ok(Platform { os: (*os).into(), architecture: (*arch).into(), variant: None })
            }
            [os, arch, variant] if !os.is_empty() && !arch.is_empty() => {
                Ok(Platform { os: (*os).into(), architecture: (*arch).into(), variant: Some((*variant).into()) })
            }
            _ => Err(ImageError::BadPlatform(text.into())),
        }
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(variant) = &self.variant {
            write!(f, "/{variant}")?;
        }
        Ok(())
    }
}

/// What a pull needs besides the reference.
#[derive(Debug, Clone)]
pub struct PullOptions {
    /// The platform to pick from a multi-platform image.
    pub platform: Platform,
    /// Registries (host[:port]) to speak plain HTTP to; loopback ones always are.
    pub insecure: Vec<String>,
}

/// Whether `registry` is spoken to over plain HTTP.
pub fn is_insecure(registry: &str, insecure: &[String]) -> bool {
    let host = registry
        .rsplit_once(':')
        .map_or(registry, |(h, port)| if port.bytes().all(|b| b.is_ascii_digit()) { h } else { registry });
    // An address, parsed: `127.evil.example` is a name anyone can point anywhere.
    let loopback =
        host.trim_start_matches('[').trim_end_matches(']').parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    host == "localhost" || loopback || insecure.iter().any(|r| r == registry)
}

fn client_for(reference: &Reference, options: &PullOptions) -> Client {
    let mut config = ClientConfig { connect_timeout: Some(Duration::from_secs(15)), ..ClientConfig::default() };
    if is_insecure(reference.registry(), &options.insecure) {
        config.protocol = ClientProtocol::HttpsExcept(vec![reference.registry().to_owned()]);
    }
    Client::new(config)
}

fn registry_auth(registry: &str) -> Result<RegistryAuth, ImageError> {
    Ok(match auth::credentials(registry)? {
        Some((user, password)) => RegistryAuth::Basic(user, password),
        None => RegistryAuth::Anonymous,
    })
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

/// Pulls `name` into `store` and returns the image.
pub fn pull(store: &Store, name: &str, options: &PullOptions, progress: &Progress) -> Result<ImageRecord, ImageError> {
    pull_as(store, name, options, progress, None)
}

/// Like [`pull`], with `credentials` (user, password) instead of the stored ones (the
/// API's clients send theirs with each pull).
pub fn pull_as(
    store: &Store,
    name: &str,
    options: &PullOptions,
    progress: &Progress,
    credentials: Option<(String, String)>,
) -> Result<ImageRecord, ImageError> {
    let reference = reference::parse(name)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| ImageError::Registry { registry: reference.registry().into(), reason: e.to_string() })?;
    let _guard = store.content_guard()?;
    runtime.block_on(pull_async(store, reference, options, progress, credentials))
}

async fn pull_async(
    store: &Store,
    reference: Reference,
    options: &PullOptions,
    progress: &Progress,
    credentials: Option<(String, String)>,
) -> Result<ImageRecord, ImageError> {
    let client = Arc::new(client_for(&reference, options));
    let auth = match credentials {
        Some((user, password)) => RegistryAuth::Basic(user, password),
        None => registry_auth(reference.registry())?,
    };
    let registry_error = |e: oci_client::errors::OciDistributionError| ImageError::Registry {
        registry: reference.registry().to_owned(),
        reason: describe(&reference, &e),
    };
    let what = reference.tag().or(reference.digest()).unwrap_or("latest").to_owned();
    progress.message_about(Some(&what), &format!("Pulling from {}", reference.repository()));

    let (bytes, _) = client.pull_manifest_raw(&reference, &auth, &MANIFEST_TYPES).await.map_err(registry_error)?;
    let top_digest = sha256(&bytes);
    if let Some(wanted) = reference.digest()
        && wanted != top_digest
    {
        return Err(ImageError::DigestMismatch { expected: wanted.into(), actual: top_digest });
    }
    let (manifest_bytes, manifest_digest) = match media_type(&bytes).as_deref() {
        Some(t) if t.contains("index") || t.contains("manifest.list") => {
            let index: ImageIndex = parse_json(&bytes, "image index")?;
            let digest = select_platform(&index, &options.platform)?;
            let by_digest = reference.clone_with_digest(digest.clone());
            let (bytes, _) =
                client.pull_manifest_raw(&by_digest, &auth, &MANIFEST_TYPES).await.map_err(registry_error)?;
            let actual = sha256(&bytes);
            if actual != digest {
                return Err(ImageError::DigestMismatch { expected: digest, actual });
            }
            (bytes, digest)
        }
        _ => (bytes.clone(), top_digest.clone()),
    };
    let manifest: ImageManifest = parse_json(&manifest_bytes, "image manifest")?;

    let config_descriptor = descriptor(manifest.config());
    let config_bytes = pull_config(&client, &reference, &config_descriptor).await.map_err(|e| match e {
        Failure::Transfer(reason) => ImageError::Registry { registry: reference.registry().into(), reason },
        Failure::Fatal(e) => e,
    })?;
    let image_id = sha256(&config_bytes);
    if image_id != config_descriptor.digest {
        return Err(ImageError::DigestMismatch { expected: config_descriptor.digest, actual: image_id });
    }
    let config: ImageConfiguration = crate::config::parse(&config_bytes)?;
    let diff_ids = config.rootfs().diff_ids().clone();
    if diff_ids.len() != manifest.layers().len() {
        return Err(ImageError::Invalid(format!(
            "manifest lists {} layers but the config {}",
            manifest.layers().len(),
            diff_ids.len()
        )));
    }
    let chain = lindocker_storage::layers::chain_ids(&diff_ids)?;

    let mut tasks = tokio::task::JoinSet::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(CONCURRENT_LAYERS));
    for (i, layer) in manifest.layers().iter().enumerate() {
        let layer = descriptor(layer);
        let bar = progress.layer(&layer.digest, layer.size.max(0) as u64);
        if store.layers().exists(&chain[i]) && store.has_blob(&layer.digest) {
            bar.status("Already exists");
            continue;
        }
        let job = LayerJob {
            client: client.clone(),
            reference: reference.clone(),
            descriptor: layer,
            parent: i.checked_sub(1).map(|p| chain[p].clone()),
            diff_id: diff_ids[i].clone(),
            store: store.clone(),
            bar,
        };
        let slots = slots.clone();
        tasks.spawn(async move {
            let _slot = slots.acquire_owned().await.map_err(|e| ImageError::Invalid(e.to_string()))?;
            job.run().await
        });
    }
    let mut first_error = None;
    while let Some(result) = tasks.join_next().await {
        let result =
            result.map_err(|e| ImageError::Invalid(format!("layer download task failed: {e}"))).and_then(|r| r);
        if let Err(e) = result {
            tasks.abort_all();
            first_error.get_or_insert(e);
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }

    store.write_blob(&config_bytes)?;
    store.write_blob(&manifest_bytes)?;
    let size = chain.iter().map(|c| store.layers().info(c).map(|i| i.size).unwrap_or(0)).sum();
    let repo = reference::repository(&reference);
    let record = ImageRecord {
        id: image_id,
        manifest: manifest_digest,
        names: Vec::new(),
        digests: vec![format!("{repo}@{top_digest}")],
        layers: chain,
        size,
        created: config.created().clone(),
    };
    let name = reference.tag().map(|_| reference.whole());
    let before = name.as_deref().and_then(|n| store.find(n).ok());
    let record = store.add(record, name.as_deref())?;
    // A later push to another repository of this registry can mount these blobs.
    let blobs: Vec<String> =
        manifest.layers().iter().map(|l| l.digest().to_string()).chain([config_descriptor.digest.clone()]).collect();
    store.record_repository(&blobs, &repo)?;
    progress.message(&format!("Digest: {top_digest}"));
    let shown = name.as_deref().map(reference::familiar).unwrap_or(reference::familiar(&repo)).to_owned();
    if before.is_some_and(|b| b.id == record.id) {
        progress.message(&format!("Status: Image is up to date for {shown}"));
    } else {
        progress.message(&format!("Status: Downloaded newer image for {shown}"));
    }
    Ok(record)
}

/// One layer: download, store and unpack in one pass, starting over after a dropped
/// connection.
struct LayerJob {
    client: Arc<Client>,
    reference: Reference,
    descriptor: OciDescriptor,
    parent: Option<String>,
    diff_id: String,
    store: Store,
    bar: LayerProgress,
}

impl LayerJob {
    async fn run(self) -> Result<(), ImageError> {
        let mut attempt = 1;
        loop {
            match self.once().await {
                Ok(()) => {
                    self.bar.status("Pull complete");
                    return Ok(());
                }
                Err(Failure::Transfer(reason)) if attempt < ATTEMPTS => {
                    self.bar.restart(&reason);
                    tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
                    attempt += 1;
                }
                Err(Failure::Transfer(reason)) => {
                    return Err(ImageError::Registry {
                        registry: self.reference.registry().into(),
                        reason: format!("blob {}: {reason} (after {ATTEMPTS} attempts)", self.descriptor.digest),
                    });
                }
                Err(Failure::Fatal(e)) => return Err(e),
            }
        }
    }

    async fn once(&self) -> Result<(), Failure> {
        let response = self.client.pull_blob_stream(&self.reference, &self.descriptor).await.map_err(|e| match e {
            oci_client::errors::OciDistributionError::RequestError(e) => Failure::Transfer(e.to_string()),
            other => Failure::Fatal(ImageError::Registry {
                registry: self.reference.registry().into(),
                reason: describe(&self.reference, &other),
            }),
        })?;
        let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(64);
        let store = self.store.clone();
        let (parent, diff_id, digest) = (self.parent.clone(), self.diff_id.clone(), self.descriptor.digest.clone());
        let unpack = tokio::task::spawn_blocking(move || store_and_unpack(&store, parent, &diff_id, &digest, rx));
        let mut stream = response.stream;
        let mut transfer_error = None;
        // A registry that sends more than the descriptor says would fill the disk before
        // the digest could be checked.
        let limit = u64::try_from(self.descriptor.size).unwrap_or(0);
        let mut received = 0u64;
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(bytes) => {
                    received += bytes.len() as u64;
                    if received > limit {
                        drop(tx);
                        let _ = unpack.await;
                        return Err(Failure::Fatal(ImageError::Invalid(format!(
                            "blob {}: the registry sent more than its descriptor's {limit} bytes",
                            self.descriptor.digest
                        ))));
                    }
                    self.bar.advance(bytes.len() as u64);
                    if tx.send(Ok(bytes)).await.is_err() {
                        break; // the unpacker gave up; its error says why
                    }
                }
                Err(e) => {
                    let message = e.to_string();
                    let _ = tx.send(Err(io::Error::other(message.clone()))).await;
                    transfer_error = Some(message);
                    break;
                }
            }
        }
        drop(tx);
        let result =
            unpack.await.map_err(|e| Failure::Fatal(ImageError::Invalid(format!("unpack task failed: {e}"))))?;
        match (result, transfer_error) {
            (Ok(()), _) => Ok(()),
            // A digest that came out wrong is the content's fault, not the connection's.
            (Err(e), Some(reason)) if !reason.contains("igest") => {
                let _ = e;
                Err(Failure::Transfer(reason))
            }
            (Err(e), _) => Err(Failure::Fatal(e)),
        }
    }
}

enum Failure {
    Transfer(String),
    Fatal(ImageError),
}

/// The image config, at most its descriptor's size (and never more than [`MAX_CONFIG`]).
async fn pull_config(client: &Client, reference: &Reference, config: &OciDescriptor) -> Result<Vec<u8>, Failure> {
    let limit = u64::try_from(config.size).unwrap_or(0);
    if limit > MAX_CONFIG {
        return Err(Failure::Fatal(ImageError::Invalid(format!(
            "image config {}: {limit} bytes, more than the {MAX_CONFIG} allowed",
            config.digest
        ))));
    }
    let response = client.pull_blob_stream(reference, config).await.map_err(|e| Failure::Transfer(e.to_string()))?;
    let mut stream = response.stream;
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| Failure::Transfer(e.to_string()))?;
        if (bytes.len() + chunk.len()) as u64 > limit {
            return Err(Failure::Fatal(ImageError::Invalid(format!(
                "image config {}: the registry sent more than its descriptor's {limit} bytes",
                config.digest
            ))));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// Runs on a blocking thread: writes the blob and unpacks the layer from one stream.
fn store_and_unpack(
    store: &Store,
    parent: Option<String>,
    diff_id: &str,
    digest: &str,
    rx: mpsc::Receiver<io::Result<Bytes>>,
) -> Result<(), ImageError> {
    let mut writer = store.blob_writer()?;
    let mut tee = Tee { input: ChannelReader { rx, current: Bytes::new() }, copy: &mut writer };
    store.layers().unpack(parent.as_deref(), Some(diff_id), &mut tee)?;
    io::copy(&mut tee, &mut io::sink()).map_err(|e| ImageError::Invalid(format!("blob {digest}: {e}")))?;
    writer.commit(Some(digest)).map(|_| ())
}

/// Reads the chunks a download task sends.
struct ChannelReader {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    current: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(bytes)) => self.current = bytes,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// A reader that copies what it reads into a writer.
struct Tee<'a, R, W> {
    input: R,
    copy: &'a mut W,
}

impl<R: Read, W: io::Write> Read for Tee<'_, R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.input.read(buf)?;
        self.copy.write_all(&buf[..n])?;
        Ok(n)
    }
}

fn descriptor(d: &oci_spec::image::Descriptor) -> OciDescriptor {
    OciDescriptor {
        media_type: d.media_type().to_string(),
        digest: d.digest().to_string(),
        size: d.size() as i64,
        ..OciDescriptor::default()
    }
}

fn media_type(bytes: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    if let Some(t) = value.get("mediaType").and_then(|t| t.as_str()) {
        return Some(t.to_owned());
    }
    // OCI allows mediaType to be absent: an index has `manifests`, a manifest `layers`.
    value.get("manifests").map(|_| "application/vnd.oci.image.index.v1+json".to_owned())
}

fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, ImageError> {
    serde_json::from_slice(bytes).map_err(|e| ImageError::Invalid(format!("{what}: {e}")))
}

fn select_platform(index: &ImageIndex, wanted: &Platform) -> Result<String, ImageError> {
    let mut offered = Vec::new();
    for entry in index.manifests() {
        let Some(platform) = entry.platform() else { continue };
        let os = platform.os().to_string();
        let arch = platform.architecture().to_string();
        let variant = platform.variant().clone();
        offered.push(format!("{os}/{arch}{}", variant.as_deref().map(|v| format!("/{v}")).unwrap_or_default()));
        if os == wanted.os && arch == wanted.architecture && (wanted.variant.is_none() || variant == wanted.variant) {
            return Ok(entry.digest().to_string());
        }
    }
    Err(ImageError::NoMatchingPlatform { wanted: wanted.to_string(), offered })
}

/// A registry error in words a user can act on.
fn describe(reference: &Reference, e: &oci_client::errors::OciDistributionError) -> String {
    use oci_client::errors::OciDistributionError as E;
    match e {
        E::ImageManifestNotFoundError(_) => format!("manifest for {} not found", reference.whole()),
        E::AuthenticationFailure(m) => {
            format!("authentication failed ({m}); try `lindocker login {}`", reference.registry())
        }
        E::UnauthorizedError { .. } => format!("unauthorized; try `lindocker login {}`", reference.registry()),
        E::RequestError(r) if r.is_connect() => format!("cannot connect: {}", error_chain(r)),
        E::RegistryError { envelope, .. } => {
            envelope.errors.iter().map(|e| e.message.clone()).collect::<Vec<_>>().join("; ")
        }
        other => error_chain(other),
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Checks `user`/`password` against `registry` (GET /v2/, answering its challenge) and
/// stores them if they work.
pub fn login(registry: &str, user: &str, password: &str, insecure: &[String]) -> Result<(), ImageError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ImageError::Registry { registry: registry.into(), reason: e.to_string() })?;
    runtime.block_on(check_login(registry, user, password, insecure))?;
    auth::store(registry, user, password)
}

/// Checks `user`/`password` against `registry` as [`login`] does, storing nothing (the
/// API's `/auth`: the client keeps the credentials).
pub fn check_credentials(registry: &str, user: &str, password: &str, insecure: &[String]) -> Result<(), ImageError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ImageError::Registry { registry: registry.into(), reason: e.to_string() })?;
    runtime.block_on(check_login(registry, user, password, insecure))
}

/// Whether credentials for a registry spoken to over `scheme` may go to `realm`: never
/// from an https registry to a plain-http token service.
fn realm_allowed(scheme: &str, realm: &str) -> bool {
    scheme != "https" || realm.get(..8).is_some_and(|prefix| prefix.eq_ignore_ascii_case("https://"))
}

async fn check_login(registry: &str, user: &str, password: &str, insecure: &[String]) -> Result<(), ImageError> {
    let fail = |reason: String| ImageError::Registry { registry: registry.into(), reason };
    let host = if registry == "docker.io" { "index.docker.io" } else { registry };
    let scheme = if is_insecure(registry, insecure) { "http" } else { "https" };
    let client =
        reqwest::Client::builder().connect_timeout(Duration::from_secs(15)).build().map_err(|e| fail(e.to_string()))?;
    let url = format!("{scheme}://{host}/v2/");
    let response = client.get(&url).send().await.map_err(|e| fail(error_chain(&e)))?;
    if response.status().is_success() {
        return Ok(());
    }
    let challenge =
        response.headers().get("www-authenticate").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let answer = if challenge.to_ascii_lowercase().starts_with("bearer") {
        let param = |key: &str| {
            challenge
                .split([',', ' '])
                .find_map(|p| p.strip_prefix(&format!("{key}=\"")))
                .map(|v| v.trim_end_matches('"').to_owned())
        };
        let realm = param("realm").ok_or_else(|| fail(format!("bearer challenge without realm: {challenge}")))?;
        if !realm_allowed(scheme, &realm) {
            return Err(fail(format!("the registry sends credentials to {realm:?}, not over https")));
        }
        let mut request = client.get(&realm).basic_auth(user, Some(password)).query(&[("account", user)]);
        if let Some(service) = param("service") {
            request = request.query(&[("service", service)]);
        }
        request.send().await
    } else {
        client.get(&url).basic_auth(user, Some(password)).send().await
    };
    let answer = answer.map_err(|e| fail(error_chain(&e)))?;
    if answer.status().is_success() { Ok(()) } else { Err(fail(format!("login refused ({})", answer.status()))) }
}

#[cfg(test)]
mod insecure_tests {
    use super::*;

    #[test]
    fn only_loopback_addresses_and_listed_registries_are_plain_http() {
        for loopback in
            ["localhost", "localhost:5000", "127.0.0.1", "127.0.0.1:5000", "127.9.9.9:1", "[::1]", "[::1]:5000"]
        {
            assert!(is_insecure(loopback, &[]), "{loopback}");
        }
        for remote in [
            "127.evil.example",
            "127.evil.example:443",
            "127.0.0.1.nip.io",
            "localhost.example",
            "registry.example:5000",
            "10.0.0.1",
        ] {
            assert!(!is_insecure(remote, &[]), "{remote}");
        }
        assert!(is_insecure("registry.example:5000", &["registry.example:5000".into()]));
    }

    #[test]
    fn a_plain_http_realm_is_refused_for_an_https_registry() {
        assert!(realm_allowed("https", "https://auth.example/token"));
        assert!(!realm_allowed("https", "http://auth.example/token"));
        assert!(!realm_allowed("https", "HTTP://auth.example/token"));
        assert!(realm_allowed("http", "http://127.0.0.1:5000/token"));
    }
}

/// Property tests: what a registry sends as an index, a manifest or a config parses or is
/// refused, never panics; what parses prints back to the same document; picking a
/// platform names one of the index's own manifests.
#[cfg(test)]
mod prop {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::*;

    fn digest(n: u8) -> String {
        format!("sha256:{}", format!("{n:02x}").repeat(32))
    }

    fn manifest() -> Value {
        json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(1), "size": 7023},
            "layers": [
                {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest(2), "size": 32654},
                {"mediaType": "application/vnd.oci.image.layer.v1.tar+zstd", "digest": digest(3), "size": 16724,
                 "annotations": {"a": "b"}},
            ],
        })
    }

    fn index() -> Value {
        json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest(4), "size": 7143,
                 "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}},
                {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest(5), "size": 7682,
                 "platform": {"architecture": "amd64", "os": "linux"}},
                {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest(6), "size": 100,
                 "platform": {"architecture": "unknown", "os": "unknown"}},
            ],
        })
    }

    fn config() -> Value {
        json!({
            "created": "2024-01-01T00:00:00Z", "architecture": "amd64", "os": "linux",
            "config": {"Env": ["PATH=/bin"], "Cmd": ["sh"], "ExposedPorts": {"80/tcp": {}}, "User": "1000",
                       "Labels": {"a": "b"}, "WorkingDir": "/srv", "Volumes": {"/data": {}}},
            "rootfs": {"type": "layers", "diff_ids": [digest(7), digest(8)]},
            "history": [{"created_by": "x", "empty_layer": true}],
        })
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<u64>().prop_map(|n| json!(n)),
            any::<f64>().prop_map(|n| json!(n)),
            prop_oneof![
                Just(digest(9)),
                Just("sha256:".to_owned()),
                Just("sha256:../../etc".to_owned()),
                Just("sha512:ab".to_owned()),
                Just("linux".to_owned()),
                Just("amd64".to_owned()),
                "\\PC{0,16}",
            ]
            .prop_map(Value::String),
        ];
        leaf.prop_recursive(2, 12, 3, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                proptest::collection::vec(
                    (proptest::sample::select(vec!["digest", "size", "platform", "os", "architecture", "x"]), inner),
                    0..3
                )
                .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
            ]
        })
    }

    /// Replaces the value at `path` (indices modulo each level's size), or drops it.
    fn mutate(doc: &mut Value, path: &[usize], new: Option<Value>) {
        let Some((&first, rest)) = path.split_first() else {
            if let Some(new) = new {
                *doc = new;
            }
            return;
        };
        match doc {
            Value::Object(m) if !m.is_empty() => {
                let key = m.keys().nth(first % m.len()).expect("in range").clone();
                if rest.is_empty() && new.is_none() {
                    m.remove(&key);
                } else {
                    mutate(m.get_mut(&key).expect("present"), rest, new);
                }
            }
            Value::Array(a) if !a.is_empty() => {
                let i = first % a.len();
                if rest.is_empty() && new.is_none() {
                    a.remove(i);
                } else {
                    mutate(&mut a[i], rest, new);
                }
            }
            _ => {
                if let Some(new) = new {
                    *doc = new;
                }
            }
        }
    }

    fn mutations() -> impl Strategy<Value = Vec<(Vec<usize>, Option<Value>)>> {
        proptest::collection::vec(
            (proptest::collection::vec(any::<usize>(), 0..5), proptest::option::weighted(0.8, json_value())),
            0..4,
        )
    }

    /// Parses `bytes` as `T`; what parses must print back to the same value. Compared as
    /// printed JSON: oci-spec reads the `ExposedPorts` and `Volumes` objects into a `Vec`
    /// in a `HashMap`'s (random) order, so two parses of one text may differ in that order.
    fn parse_round_trip<T>(bytes: &[u8]) -> Option<T>
    where
        T: serde::de::DeserializeOwned + serde::Serialize,
    {
        let parsed: T = parse_json(bytes, "document").ok()?;
        let printed = serde_json::to_value(&parsed).expect("serializes");
        let again: T = parse_json(&serde_json::to_vec(&printed).expect("serializes"), "again")
            .unwrap_or_else(|e| panic!("{} does not parse back: {e}", String::from_utf8_lossy(bytes)));
        assert_eq!(serde_json::to_value(&again).expect("serializes"), printed);
        Some(parsed)
    }

    fn mutated(mut doc: Value, changes: &[(Vec<usize>, Option<Value>)]) -> Vec<u8> {
        for (path, new) in changes {
            mutate(&mut doc, path, new.clone());
        }
        serde_json::to_vec(&doc).expect("json")
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn random_bytes_are_refused(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = media_type(&bytes);
            let _ = parse_round_trip::<ImageManifest>(&bytes);
            let _ = parse_round_trip::<ImageIndex>(&bytes);
            let _ = parse_round_trip::<ImageConfiguration>(&bytes);
        }

        #[test]
        fn mutated_manifests(changes in mutations()) {
            let bytes = mutated(manifest(), &changes);
            let _ = media_type(&bytes);
            if let Some(m) = parse_round_trip::<ImageManifest>(&bytes) {
                for layer in m.layers() {
                    let d = descriptor(layer);
                    prop_assert!(d.digest.starts_with("sha256:") || d.digest.contains(':'), "{}", d.digest);
                }
            }
        }

        #[test]
        fn mutated_indexes_pick_their_own_manifests(changes in mutations(), arch in "amd64|arm64|unknown|s390x", variant in proptest::option::of("v7|v8")) {
            let bytes = mutated(index(), &changes);
            let _ = media_type(&bytes);
            if let Some(index) = parse_round_trip::<ImageIndex>(&bytes) {
                let wanted = Platform { os: "linux".into(), architecture: arch, variant };
                if let Ok(digest) = select_platform(&index, &wanted) {
                    prop_assert!(index.manifests().iter().any(|m| m.digest().to_string() == digest));
                }
            }
        }

        #[test]
        fn mutated_configs(changes in mutations()) {
            let _ = parse_round_trip::<ImageConfiguration>(&mutated(config(), &changes));
        }

        #[test]
        fn platforms_parse_or_are_refused(text in "[a-z0-9/]{0,20}") {
            if let Ok(p) = Platform::parse(&text) {
                prop_assert_eq!(p.to_string(), text);
            }
        }
    }
}
