//! A blocking CRI client (the `k8s-cri` crate's generated v1 clients over tonic) on a
//! containerd socket, with a timeout on every call, and the kubelet's requests for a pod
//! and a container as the CRI test and the CRI bench make them.

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use hyper_util::rt::TokioIo;
pub use k8s_cri::v1 as api;
use k8s_cri::v1::image_service_client::ImageServiceClient;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use tonic::transport::{Channel, Endpoint, Uri};

/// The longest any one CRI call may take.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// A connected CRI client.
pub struct Cri {
    rt: tokio::runtime::Runtime,
    /// The runtime service.
    pub runtime: RuntimeServiceClient<Channel>,
    /// The image service.
    pub images: ImageServiceClient<Channel>,
}

impl Cri {
    /// Connects to the CRI on unix socket `socket`.
    pub fn connect(socket: &Path) -> Cri {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let socket = socket.to_path_buf();
        let channel = rt
            .block_on(async {
                let endpoint = Endpoint::try_from("http://[::]:50051").unwrap().connect_timeout(Duration::from_secs(5));
                let connect = endpoint.connect_with_connector(tower::service_fn(move |_: Uri| {
                    let socket = socket.clone();
                    async move { Ok::<_, std::io::Error>(TokioIo::new(tokio::net::UnixStream::connect(socket).await?)) }
                }));
                tokio::time::timeout(CALL_TIMEOUT, connect).await
            })
            .expect("connecting to the CRI timed out")
            .expect("connect to the CRI socket");
        Cri { rt, runtime: RuntimeServiceClient::new(channel.clone()), images: ImageServiceClient::new(channel) }
    }

    /// Runs one call (`what` names it in errors) with [`CALL_TIMEOUT`].
    pub fn call<T>(
        &self,
        what: &str,
        fut: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    ) -> Result<T, tonic::Status> {
        match self.rt.block_on(async { tokio::time::timeout(CALL_TIMEOUT, fut).await }) {
            Ok(r) => r.map(tonic::Response::into_inner),
            Err(_) => Err(tonic::Status::deadline_exceeded(format!("{what}: no answer in {CALL_TIMEOUT:?}"))),
        }
    }
}

/// A pod's sandbox config as the kubelet sends it: its own network namespace (the CNI
/// network), pid namespace per container, `cgroup_parent` for its cgroups, `log_dir`.
pub fn pod_config(name: &str, cgroup_parent: &str, log_dir: &Path) -> api::PodSandboxConfig {
    api::PodSandboxConfig {
        metadata: Some(api::PodSandboxMetadata {
            name: name.into(),
            uid: format!("uid-{name}-{}", std::process::id()),
            namespace: "default".into(),
            attempt: 0,
        }),
        hostname: name.into(),
        log_directory: log_dir.to_string_lossy().into_owned(),
        linux: Some(api::LinuxPodSandboxConfig {
            cgroup_parent: cgroup_parent.into(),
            security_context: Some(api::LinuxSandboxSecurityContext {
                namespace_options: Some(pod_namespaces()),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The kubelet's default: network and IPC shared in the pod, a PID namespace per container.
fn pod_namespaces() -> api::NamespaceOption {
    api::NamespaceOption {
        network: api::NamespaceMode::Pod as i32,
        pid: api::NamespaceMode::Container as i32,
        ipc: api::NamespaceMode::Pod as i32,
        ..Default::default()
    }
}

/// A container config: `image`, `args` as its command, its log at `log_path` (relative to
/// the pod's log directory), a memory limit.
pub fn container_config(name: &str, image: &str, args: &[&str], log_path: &str, memory: i64) -> api::ContainerConfig {
    api::ContainerConfig {
        metadata: Some(api::ContainerMetadata { name: name.into(), attempt: 0 }),
        image: Some(api::ImageSpec { image: image.into(), ..Default::default() }),
        command: args.iter().map(|a| a.to_string()).collect(),
        log_path: log_path.into(),
        linux: Some(api::LinuxContainerConfig {
            resources: Some(api::LinuxContainerResources {
                memory_limit_in_bytes: memory,
                cpu_shares: 512,
                ..Default::default()
            }),
            security_context: Some(api::LinuxContainerSecurityContext {
                namespace_options: Some(pod_namespaces()),
                ..Default::default()
            }),
        }),
        ..Default::default()
    }
}
