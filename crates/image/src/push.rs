//! Pushing to a registry (OCI distribution spec, as registries implement it): each blob
//! is asked for first (HEAD) and not sent again when the registry has it, mounted from
//! another repository of the same registry when the store knows it lives there, else
//! uploaded (one PUT when small, PATCH chunks when large, resumed or restarted after a
//! dropped connection); the manifest goes last, so a failed push leaves none.
//!
//! Written on reqwest (oci-client's HTTP stack) rather than oci-client's push calls: those
//! treat a mount the registry declines (202) as an error, have no resume, no progress, and
//! a fixed 4 MiB chunk size.

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Response, StatusCode, Url};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::blobmeta::Compression;
use crate::progress::{LayerProgress, Progress};
use crate::registry::{Platform, is_insecure};
use crate::store::{ImageRecord, Store};
use crate::{ImageError, auth, reference};

/// Blobs up to this size go in one PUT; larger ones in PATCH chunks of [`CHUNK`].
const MONOLITHIC: u64 = 8 << 20;
/// The size of one PATCH.
const CHUNK: u64 = 32 << 20;
/// Attempts per blob (a dropped connection resumes the upload, or starts it over).
const ATTEMPTS: u32 = 3;
/// Blobs uploaded at once (Docker's `max-concurrent-uploads` is 5).
const CONCURRENT: usize = 3;

const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";

/// What a push needs besides the name.
#[derive(Debug, Clone, Default)]
pub struct PushOptions {
    /// Registries (host[:port]) spoken to over plain HTTP; loopback ones always are.
    pub insecure: Vec<String>,
    /// Push every tag of the repository (`-a`).
    pub all_tags: bool,
    /// Push only if the image is for this platform (`--platform`; lindocker's images
    /// have one platform each).
    pub platform: Option<Platform>,
}

/// One tag pushed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pushed {
    /// The full name pushed (`registry/repo:tag`).
    pub name: String,
    /// Its tag.
    pub tag: String,
    /// The manifest's digest in the registry.
    pub digest: String,
    /// The manifest's size in bytes.
    pub size: u64,
}

/// Pushes `name` (or, with `all_tags`, every tag of its repository) from `store`.
pub fn push(store: &Store, name: &str, options: &PushOptions, progress: &Progress) -> Result<Vec<Pushed>, ImageError> {
    push_as(store, name, options, progress, None)
}

/// Like [`push`], with `credentials` (user, password) instead of the stored ones.
pub fn push_as(
    store: &Store,
    name: &str,
    options: &PushOptions,
    progress: &Progress,
    credentials: Option<(String, String)>,
) -> Result<Vec<Pushed>, ImageError> {
    let reference = reference::parse(name)?;
    let bad = |reason: &str| ImageError::BadReference { reference: name.to_owned(), reason: reason.to_owned() };
    if reference.digest().is_some() {
        return Err(bad("a digest reference cannot be pushed; push a tag"));
    }
    let repository = reference::repository(&reference);
    let explicit_tag = name.rsplit('/').next().is_some_and(|last| last.contains(':'));
    let names: Vec<String> = if options.all_tags {
        if explicit_tag {
            return Err(bad("a tag cannot be given with --all-tags"));
        }
        let mut names: Vec<String> = store
            .images()?
            .into_iter()
            .flat_map(|image| image.names)
            .filter(|n| reference::parse(n).is_ok_and(|r| reference::repository(&r) == repository))
            .collect();
        names.sort();
        names.dedup();
        if names.is_empty() {
            return Err(ImageError::NoSuchImage(reference::familiar(&repository).to_owned()));
        }
        names
    } else {
        vec![reference.whole()]
    };
    // Every image is found (and its platform checked) before anything is sent.
    let images = names.iter().map(|n| store.find(n).map(|i| (n.clone(), i))).collect::<Result<Vec<_>, _>>()?;
    if let Some(wanted) = &options.platform {
        for (name, image) in &images {
            let config = store.config(image)?;
            let variant = config.variant().clone();
            let has = Platform {
                os: config.os().to_string(),
                architecture: config.architecture().to_string(),
                variant: variant.filter(|_| wanted.variant.is_some()),
            };
            if has != *wanted {
                return Err(ImageError::NoMatchingPlatform {
                    wanted: format!("{wanted} ({name})"),
                    offered: vec![has.to_string()],
                });
            }
        }
    }
    let registry = reference.registry().to_owned();
    let fail = |reason: String| ImageError::Registry { registry: registry.clone(), reason };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| fail(e.to_string()))?;
    // Compressed blobs are made under the content guard, so a collection cannot take them
    // half-way.
    let _guard = store.content_guard()?;
    let credentials = match credentials {
        Some(c) => Some(c),
        None => auth::credentials(&registry)?,
    };
    progress.message(&format!("The push refers to repository [{}]", reference::familiar(&repository)));
    runtime.block_on(async {
        let session = Arc::new(Session::open(store, &reference, options, credentials).await?);
        let mut pushed = Vec::new();
        for (name, image) in images {
            pushed.push(session.push_image(&name, &image, progress).await?);
        }
        Ok(pushed)
    })
}

/// How requests are authorized.
#[derive(Debug, Clone)]
enum Authorization {
    None,
    Basic(String, String),
    Bearer(String),
}

/// A connection to one repository of a registry.
struct Session {
    http: reqwest::Client,
    /// `http://host:port` or `https://host`.
    base: Url,
    registry: String,
    /// The repository's path (`library/busybox`).
    repository: String,
    auth: Authorization,
    store: Store,
}

impl Session {
    async fn open(
        store: &Store,
        reference: &oci_client::Reference,
        options: &PushOptions,
        credentials: Option<(String, String)>,
    ) -> Result<Session, ImageError> {
        let registry = reference.registry().to_owned();
        let fail = |reason: String| ImageError::Registry { registry: registry.clone(), reason };
        let scheme = if is_insecure(&registry, &options.insecure) { "http" } else { "https" };
        let host = reference.resolve_registry();
        let base = Url::parse(&format!("{scheme}://{host}/")).map_err(|e| fail(e.to_string()))?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(15))
            .build()
            .map_err(|e| fail(e.to_string()))?;
        let repository = reference.repository().to_owned();
        let mut session = Session {
            http,
            base,
            registry: registry.clone(),
            repository,
            auth: Authorization::None,
            store: store.clone(),
        };
        session.auth = session.authorize(scheme, credentials).await?;
        Ok(session)
    }

    fn fail(&self, reason: impl Into<String>) -> ImageError {
        ImageError::Registry { registry: self.registry.clone(), reason: reason.into() }
    }

    fn unauthorized(&self) -> ImageError {
        self.fail(format!("unauthorized: authentication required; log in with `lindocker login {}`", self.registry))
    }

    /// Answers the registry's challenge at `/v2/`: a bearer token for pull and push of
    /// the repository, or basic credentials.
    async fn authorize(
        &self,
        scheme: &str,
        credentials: Option<(String, String)>,
    ) -> Result<Authorization, ImageError> {
        let url = self.base.join("v2/").map_err(|e| self.fail(e.to_string()))?;
        let response = self.http.get(url).send().await.map_err(|e| self.fail(transport(&e)))?;
        if response.status().is_success() {
            return Ok(credentials.map_or(Authorization::None, |(u, p)| Authorization::Basic(u, p)));
        }
        if response.status() != StatusCode::UNAUTHORIZED {
            return Err(self.fail(format!("/v2/ answered {}", response.status())));
        }
        let challenge =
            response.headers().get("www-authenticate").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        if !challenge.to_ascii_lowercase().starts_with("bearer") {
            return match credentials {
                Some((u, p)) => Ok(Authorization::Basic(u, p)),
                None => Err(self.unauthorized()),
            };
        }
        let param = |key: &str| {
            challenge
                .split([',', ' '])
                .find_map(|p| p.strip_prefix(&format!("{key}=\"")))
                .map(|v| v.trim_end_matches('"').to_owned())
        };
        let realm = param("realm").ok_or_else(|| self.fail(format!("bearer challenge without realm: {challenge}")))?;
        if scheme == "https" && !realm.get(..8).is_some_and(|p| p.eq_ignore_ascii_case("https://")) {
            return Err(self.fail(format!("the registry sends credentials to {realm:?}, not over https")));
        }
        let mut request =
            self.http.get(&realm).query(&[("scope", format!("repository:{}:pull,push", self.repository))]);
        if let Some(service) = param("service") {
            request = request.query(&[("service", service)]);
        }
        if let Some((user, password)) = &credentials {
            request = request.basic_auth(user, Some(password)).query(&[("account", user)]);
        }
        let answer = request.send().await.map_err(|e| self.fail(transport(&e)))?;
        if answer.status() == StatusCode::UNAUTHORIZED || answer.status() == StatusCode::FORBIDDEN {
            return Err(self.unauthorized());
        }
        if !answer.status().is_success() {
            return Err(self.fail(format!("token service answered {}", answer.status())));
        }
        let body = bounded_body(answer).await.map_err(|e| self.fail(format!("token service: {e}")))?;
        let body: Value = serde_json::from_slice(&body).map_err(|e| self.fail(format!("token service: {e}")))?;
        let token = body["token"].as_str().or(body["access_token"].as_str()).unwrap_or_default();
        if token.is_empty() {
            return Err(self.fail("token service sent no token"));
        }
        Ok(Authorization::Bearer(token.to_owned()))
    }

    /// A request to `url`, with the credentials only if `url` is the registry's own origin
    /// (scheme, host, port): an upload `Location` the registry names elsewhere (another
    /// host, plain HTTP) gets none, as Docker's client adds them only for the registry
    /// that challenged for them.
    fn request(&self, method: reqwest::Method, url: Url) -> reqwest::RequestBuilder {
        let own = url.origin() == self.base.origin();
        let request = self.http.request(method, url);
        if !own {
            return request;
        }
        match &self.auth {
            Authorization::None => request,
            Authorization::Basic(user, password) => request.basic_auth(user, Some(password)),
            Authorization::Bearer(token) => request.bearer_auth(token),
        }
    }

    fn url(&self, path: &str) -> Result<Url, ImageError> {
        self.base.join(&format!("v2/{}/{path}", self.repository)).map_err(|e| self.fail(e.to_string()))
    }

    /// A registry's refusal in words: its error envelope, or the status.
    async fn refused(&self, what: &str, response: Response) -> ImageError {
        let status = response.status();
        if status == StatusCode::UNAUTHORIZED {
            return self.unauthorized();
        }
        let body = bounded_body(response).await.unwrap_or_default();
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let messages: Vec<String> = body["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .map(|e| format!("{}: {}", e["code"].as_str().unwrap_or(""), e["message"].as_str().unwrap_or("")))
                    .collect()
            })
            .unwrap_or_default();
        self.fail(if messages.is_empty() {
            format!("{what}: {status}")
        } else {
            format!("{what}: {}", messages.join("; "))
        })
    }

    fn location(&self, response: &Response) -> Result<Url, ImageError> {
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| self.fail("upload answered without a Location"))?;
        response.url().join(location).map_err(|e| self.fail(format!("bad upload location {location:?}: {e}")))
    }

    async fn push_image(
        self: &Arc<Self>,
        name: &str,
        image: &ImageRecord,
        progress: &Progress,
    ) -> Result<Pushed, ImageError> {
        let store = &self.store;
        let manifest: Value = serde_json::from_slice(&store.read_blob(&image.manifest)?)
            .map_err(|e| ImageError::Invalid(format!("manifest of {name}: {e}")))?;
        let config = store.read_blob(&image.id)?;
        let docker = manifest["mediaType"].as_str() == Some(DOCKER_MANIFEST);
        let stored: Vec<(String, String, u64)> = manifest["layers"]
            .as_array()
            .ok_or_else(|| ImageError::Invalid(format!("manifest of {name} lists no layers")))?
            .iter()
            .map(|l| {
                (
                    l["mediaType"].as_str().unwrap_or_default().to_owned(),
                    l["digest"].as_str().unwrap_or_default().to_owned(),
                    l["size"].as_u64().unwrap_or(0),
                )
            })
            .collect();
        // zstd only when the image already has zstd layers; gzip otherwise.
        let how = if stored.iter().any(|(t, ..)| t.ends_with("zstd")) { Compression::Zstd } else { Compression::Gzip };
        let mut layers = Vec::new();
        for (media_type, digest, size) in stored {
            let (digest, size, kind) = if media_type.ends_with("gzip") {
                (digest, size, Compression::Gzip)
            } else if media_type.ends_with("zstd") {
                (digest, size, Compression::Zstd)
            } else if media_type.ends_with(".tar") || media_type.ends_with("tar") {
                let store = store.clone();
                let from = digest.clone();
                let made = tokio::task::spawn_blocking(move || store.compressed(&from, how))
                    .await
                    .map_err(|e| ImageError::Invalid(format!("compressing {digest}: {e}")))??;
                (made.digest, made.size, how)
            } else {
                return Err(ImageError::Invalid(format!("layer {digest}: cannot push media type {media_type:?}")));
            };
            layers.push((layer_type(docker, kind), digest, size));
        }

        let mut tasks = tokio::task::JoinSet::new();
        let slots = Arc::new(tokio::sync::Semaphore::new(CONCURRENT));
        let mut blobs: Vec<(String, u64, bool)> = layers.iter().map(|(_, d, s)| (d.clone(), *s, true)).collect();
        blobs.push((image.id.clone(), config.len() as u64, false));
        let mut seen = std::collections::HashSet::new();
        for (digest, size, is_layer) in blobs {
            if !seen.insert(digest.clone()) {
                continue;
            }
            // Docker shows layers, not the config.
            let bar =
                if is_layer { progress.push_layer(&digest, size) } else { Progress::Quiet.push_layer(&digest, size) };
            let (session, slots) = (self.clone(), slots.clone());
            tasks.spawn(async move {
                let _slot = slots.acquire_owned().await.map_err(|e| ImageError::Invalid(e.to_string()))?;
                session.push_blob(&digest, size, &bar).await
            });
        }
        let mut first_error = None;
        while let Some(result) = tasks.join_next().await {
            let result = result.map_err(|e| ImageError::Invalid(format!("upload task failed: {e}"))).and_then(|r| r);
            if let Err(e) = result {
                tasks.abort_all();
                first_error.get_or_insert(e);
            }
        }
        if let Some(e) = first_error {
            return Err(e);
        }

        let document = json!({
            "schemaVersion": 2,
            "mediaType": if docker { DOCKER_MANIFEST } else { OCI_MANIFEST },
            "config": {
                "mediaType": if docker { DOCKER_CONFIG } else { OCI_CONFIG },
                "digest": image.id,
                "size": config.len(),
            },
            "layers": layers.iter().map(|(t, d, s)| json!({ "mediaType": t, "digest": d, "size": s })).collect::<Vec<_>>(),
        });
        let bytes = serde_json::to_vec_pretty(&document).expect("manifest serializes");
        let digest = format!("sha256:{:x}", Sha256::digest(&bytes));
        let parsed = reference::parse(name)?;
        let tag = parsed.tag().unwrap_or("latest").to_owned();
        let url = self.url(&format!("manifests/{tag}"))?;
        let response = self
            .request(reqwest::Method::PUT, url)
            .header("content-type", if docker { DOCKER_MANIFEST } else { OCI_MANIFEST })
            .body(bytes.clone())
            .send()
            .await
            .map_err(|e| self.fail(transport(&e)))?;
        if response.status() != StatusCode::CREATED {
            return Err(self.refused("manifest", response).await);
        }
        if let Some(said) = response.headers().get("docker-content-digest").and_then(|v| v.to_str().ok())
            && said != digest
        {
            return Err(self.fail(format!("the registry stored the manifest as {said}, not {digest}")));
        }
        let repository = reference::repository(&parsed);
        let mut record = image.clone();
        record.digests = vec![format!("{repository}@{digest}")];
        store.add(record, None)?;
        let pushed: Vec<String> = layers.iter().map(|(_, d, _)| d.clone()).chain([image.id.clone()]).collect();
        store.record_repository(&pushed, &repository)?;
        progress.message(&format!("{tag}: digest: {digest} size: {}", bytes.len()));
        Ok(Pushed { name: parsed.whole(), tag, digest, size: bytes.len() as u64 })
    }

    /// Gets blob `digest` into the repository: already there, mounted, or uploaded.
    async fn push_blob(&self, digest: &str, size: u64, bar: &LayerProgress) -> Result<(), ImageError> {
        let head = self
            .request(reqwest::Method::HEAD, self.url(&format!("blobs/{digest}"))?)
            .send()
            .await
            .map_err(|e| self.fail(transport(&e)))?;
        match head.status() {
            StatusCode::OK => {
                bar.status("Layer already exists");
                return Ok(());
            }
            StatusCode::NOT_FOUND => {}
            _ => return Err(self.refused(&format!("blob {digest}"), head).await),
        }
        let mut upload = None;
        let here = format!("{}/{}", self.registry, self.repository);
        let prefix = format!("{}/", self.registry);
        let sources: Vec<String> = self
            .store
            .blob_meta(digest)
            .repositories
            .into_iter()
            .rev()
            .filter(|r| *r != here)
            .filter_map(|r| r.strip_prefix(&prefix).map(str::to_owned))
            .take(3)
            .collect();
        for from in sources {
            let mut url = self.url("blobs/uploads/")?;
            url.query_pairs_mut().append_pair("mount", digest).append_pair("from", &from);
            let response = self
                .request(reqwest::Method::POST, url)
                .header("content-length", "0")
                .send()
                .await
                .map_err(|e| self.fail(transport(&e)))?;
            match response.status() {
                StatusCode::CREATED => {
                    bar.status(&format!("Mounted from {from}"));
                    return Ok(());
                }
                // Declined; the registry opened an upload instead.
                StatusCode::ACCEPTED => {
                    upload = Some(self.location(&response)?);
                    break;
                }
                _ => {}
            }
        }
        let path = self.store.blob_path(digest)?;
        let mut attempt = 1;
        loop {
            match self.upload(digest, size, &path, upload.take(), bar).await {
                Ok(()) => {
                    bar.status("Pushed");
                    return Ok(());
                }
                Err(Failure::Transfer(reason)) if attempt < ATTEMPTS => {
                    bar.restart(&reason);
                    tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
                    attempt += 1;
                }
                Err(Failure::Transfer(reason)) => {
                    return Err(self.fail(format!("blob {digest}: {reason} (after {ATTEMPTS} attempts)")));
                }
                Err(Failure::Fatal(e)) => return Err(e),
            }
        }
    }

    /// One attempt at uploading: a new session (or `session`), then one PUT, or PATCH
    /// chunks that resume where the registry says it got to after a dropped connection.
    async fn upload(
        &self,
        digest: &str,
        size: u64,
        path: &std::path::Path,
        session: Option<Url>,
        bar: &LayerProgress,
    ) -> Result<(), Failure> {
        let mut location = match session {
            Some(url) => url,
            None => {
                let response = self
                    .request(reqwest::Method::POST, self.url("blobs/uploads/")?)
                    .header("content-length", "0")
                    .send()
                    .await
                    .map_err(|e| Failure::Transfer(transport(&e)))?;
                if response.status() != StatusCode::ACCEPTED {
                    return Err(Failure::Fatal(self.refused("starting an upload", response).await));
                }
                self.location(&response)?
            }
        };
        let mut file = tokio::fs::File::open(path).await.map_err(|e| Failure::Fatal(ImageError::io(path, e)))?;
        let read = |e: std::io::Error| Failure::Fatal(ImageError::io(path, e));
        if size <= MONOLITHIC {
            let mut bytes = Vec::with_capacity(size as usize);
            file.read_to_end(&mut bytes).await.map_err(read)?;
            let mut url = location.clone();
            url.query_pairs_mut().append_pair("digest", digest);
            let response = self
                .request(reqwest::Method::PUT, url)
                .header("content-type", "application/octet-stream")
                .body(bytes)
                .send()
                .await
                .map_err(|e| Failure::Transfer(transport(&e)))?;
            if response.status() != StatusCode::CREATED {
                return Err(Failure::Fatal(self.refused(&format!("blob {digest}"), response).await));
            }
            bar.advance(size);
            return Ok(());
        }
        let mut offset = 0u64;
        while offset < size {
            let length = CHUNK.min(size - offset);
            file.seek(std::io::SeekFrom::Start(offset)).await.map_err(read)?;
            let mut bytes = vec![0u8; length as usize];
            file.read_exact(&mut bytes).await.map_err(read)?;
            let sent = self
                .request(reqwest::Method::PATCH, location.clone())
                .header("content-type", "application/octet-stream")
                .header("content-range", format!("{offset}-{}", offset + length - 1))
                .body(bytes)
                .send()
                .await;
            match sent {
                Ok(response) if response.status() == StatusCode::ACCEPTED => {
                    location = self.location(&response)?;
                    offset += length;
                    bar.advance(length);
                }
                Ok(response) => return Err(Failure::Fatal(self.refused(&format!("blob {digest}"), response).await)),
                Err(e) => {
                    // Where did the registry get to? Resume there, or start over.
                    let reason = transport(&e);
                    match self.upload_offset(&location).await {
                        Some((url, at)) if at <= offset + length => {
                            bar.restart(&format!("{reason}; resuming at {at}"));
                            bar.advance(at);
                            location = url;
                            offset = at;
                        }
                        _ => return Err(Failure::Transfer(reason)),
                    }
                }
            }
        }
        let mut url = location;
        url.query_pairs_mut().append_pair("digest", digest);
        let response = self
            .request(reqwest::Method::PUT, url)
            .header("content-length", "0")
            .send()
            .await
            .map_err(|e| Failure::Transfer(transport(&e)))?;
        if response.status() != StatusCode::CREATED {
            return Err(Failure::Fatal(self.refused(&format!("blob {digest}"), response).await));
        }
        Ok(())
    }

    /// Asks an upload session how many bytes it holds (`Range: 0-N`).
    async fn upload_offset(&self, location: &Url) -> Option<(Url, u64)> {
        let response = self.request(reqwest::Method::GET, location.clone()).send().await.ok()?;
        if response.status() != StatusCode::NO_CONTENT {
            return None;
        }
        let url = self.location(&response).unwrap_or_else(|_| location.clone());
        let range = response.headers().get("range").and_then(|v| v.to_str().ok()).unwrap_or("0-0");
        let end: u64 = range.rsplit('-').next()?.parse().ok()?;
        // `0-0` is what distribution says for an empty upload as well as for one byte.
        Some((url, if range == "0-0" { 0 } else { end.checked_add(1)? }))
    }
}

enum Failure {
    Transfer(String),
    Fatal(ImageError),
}

impl From<ImageError> for Failure {
    fn from(e: ImageError) -> Failure {
        Failure::Fatal(e)
    }
}

/// The most of a token answer or an error body that is read: a registry's endless answer
/// must not fill the memory of a push.
const BODY_LIMIT: usize = 1 << 20;

/// `response`'s body, if it is at most [`BODY_LIMIT`] bytes.
async fn bounded_body(mut response: Response) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| transport(&e))? {
        if body.len() + chunk.len() > BODY_LIMIT {
            return Err(format!("an answer longer than {BODY_LIMIT} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The layer media type for the manifest being written.
fn layer_type(docker: bool, compression: Compression) -> &'static str {
    match (docker, compression) {
        (true, Compression::Gzip) => "application/vnd.docker.image.rootfs.diff.tar.gzip",
        (true, Compression::Zstd) => "application/vnd.docker.image.rootfs.diff.tar.zstd",
        (false, Compression::Gzip) => "application/vnd.oci.image.layer.v1.tar+gzip",
        (false, Compression::Zstd) => "application/vnd.oci.image.layer.v1.tar+zstd",
    }
}

/// A transport error with its causes (`error sending request: connection refused`).
fn transport(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
