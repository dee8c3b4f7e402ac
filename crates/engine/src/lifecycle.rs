//! What happens to containers: create, start (through a shim), stop, kill, remove,
//! wait, pause; and recovery when a shim died underneath a container.

use std::collections::BTreeMap;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lindocker_image::Store;
use lindocker_storage::container::ContainerFs;
use lindocker_sys::lock::FileLock;
use serde_json::Value;

use crate::attach::{Kind, read_frame, write_frame};
use crate::events::Event;
use crate::options::MountSpec;
use crate::paths::ContainerPaths;
use crate::record::{Config, HostConfig, Record, Records, State, Status, alive};
use crate::runtime::OciRuntime;
use crate::volumes::Volumes;
use crate::{EngineError, bundle, ids};

/// The engine over one data root and one state directory. Its parts are its own: front
/// ends go through its operations, and the accessors below where they read.
#[derive(Debug, Clone)]
pub struct Engine {
    /// Images, layers, containers, volumes (`/var/lib/lindocker`).
    pub(crate) root: PathBuf,
    /// Runtime state and sockets (`/run/lindocker`).
    pub(crate) state: PathBuf,
    /// The cgroup under which containers' cgroups go (`/lindocker`).
    pub(crate) cgroup_parent: String,
    /// Container records.
    pub(crate) records: Records,
    /// Images.
    pub(crate) images: Store,
    /// Volumes.
    pub(crate) volumes: Volumes,
    /// Networks.
    pub(crate) networks: lindocker_network::Networks,
    /// Our own binary, re-run as the shim and bind-mounted as `--init`.
    pub(crate) self_exe: PathBuf,
    /// How networks are set up: in this process, or by a helper (from the shim).
    pub(crate) netops: &'static dyn crate::netops::NetworkOps,
    /// The event journal (`docker events`).
    pub(crate) events: crate::events::Journal,
}

/// A shim waiting for its container (see [`Engine::spawn_shim`]).
#[derive(Debug)]
pub struct PendingShim(UnixStream);

impl PendingShim {
    /// Lets the shim start the container (it exists now, and with `network_attached`
    /// its network too); the stream is then the shim's first client.
    pub fn go(self, network_attached: bool) -> Result<UnixStream, EngineError> {
        let payload: &[u8] = if network_attached { GO_ATTACHED } else { b"" };
        write_frame(&self.0, Kind::Go, payload).map_err(|e| EngineError::io(Path::new("the shim's socket"), e))?;
        Ok(self.0)
    }
}

/// The payload of a `Go` frame that says the container's network is attached.
pub(crate) const GO_ATTACHED: &[u8] = b"network";

/// What `create`/`run` asks for, flags already parsed.
#[derive(Debug, Clone, Default)]
pub struct CreateRequest {
    /// The image as named.
    pub image: String,
    /// `--name`.
    pub name: Option<String>,
    /// The command after the image.
    pub cmd: Vec<String>,
    /// `--entrypoint` (an empty string clears the image's).
    pub entrypoint: Option<String>,
    /// `-e` and `--env-file`, in order.
    pub env: Vec<String>,
    /// `-w`.
    pub workdir: Option<String>,
    /// `-u`.
    pub user: Option<String>,
    /// `-h`.
    pub hostname: Option<String>,
    /// `--domainname`.
    pub domainname: Option<String>,
    /// `-t`.
    pub tty: bool,
    /// `-i`.
    pub stdin: bool,
    /// `--label`.
    pub labels: BTreeMap<String, String>,
    /// `--stop-signal`.
    pub stop_signal: Option<String>,
    /// `--stop-timeout`.
    pub stop_timeout: Option<u32>,
    /// `-a`: the streams `run` attaches to (what `inspect` shows).
    pub attach: crate::attach_options::AttachStreams,
    /// `-v`, `--tmpfs`.
    pub mounts: Vec<MountSpec>,
    /// `--network`, `-p`, `--dns`, `--add-host`; `publish_all` is `-P`.
    pub network: crate::record::NetworkConfig,
    /// `-P`: publish every port the image exposes, on free host ports.
    pub publish_all: bool,
    /// `--expose`: more `PORT/PROTO` keys for the container's `ExposedPorts` (and `-P`).
    pub expose: Vec<String>,
    /// Limits and confinement.
    pub host: HostConfig,
    /// `--health-*` (laid over the image's check) or `--no-healthcheck`.
    pub healthcheck: Option<lindocker_image::health::Healthcheck>,
    /// The caller starts the container right away (`run`): its filesystem stays mounted.
    pub start_now: bool,
    /// The id, chosen by the caller (`run` starts the shim before the container exists);
    /// a new one if `None`.
    pub id: Option<String>,
    /// An image that is not in the index (a build step's state: its config blob stored,
    /// its layers unpacked), used instead of looking `image` up.
    pub built: Option<lindocker_image::ImageRecord>,
}

impl Engine {
    /// The `lindocker` binary beside the running one: bound into a container as its
    /// `--init` and run for network hooks, whichever front end (`lindocker`,
    /// `lindocker-api`) this process is.
    pub(crate) fn cli_binary(&self) -> PathBuf {
        self.self_exe.with_file_name("lindocker")
    }

    /// The engine over `root` and `state`, setting networks up through `netops`.
    pub fn open(
        root: &Path,
        state: &Path,
        cgroup_parent: &str,
        netops: &'static dyn crate::netops::NetworkOps,
    ) -> Result<Engine, EngineError> {
        std::fs::create_dir_all(state).map_err(|e| EngineError::io(state, e))?;
        crate::dataroot::close(root)?;
        let self_exe = lindocker_runtime::sealed_exe::program_path()
            .map_err(|e| EngineError::io(Path::new("/proc/self/exe"), e))?;
        Ok(Engine {
            root: root.to_owned(),
            state: state.to_owned(),
            cgroup_parent: cgroup_parent.to_owned(),
            records: Records::open(root, state)?,
            images: Store::open(root)?,
            volumes: Volumes::open(root)?,
            networks: lindocker_network::Networks::open(root)?
                .with_dns_server(self_exe.with_file_name(lindocker_network::dns::BINARY), state.to_owned()),
            self_exe,
            netops,
            events: crate::events::Journal::open(root),
        })
    }

    /// The data root (`/var/lib/lindocker`).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The state directory (`/run/lindocker`).
    pub fn state(&self) -> &Path {
        &self.state
    }

    /// The cgroup under which containers' cgroups go.
    pub fn cgroup_parent(&self) -> &str {
        &self.cgroup_parent
    }

    /// Container records (reading them; changes go through the engine's operations,
    /// which hold the container's lock).
    pub fn records(&self) -> &Records {
        &self.records
    }

    /// The image store.
    pub fn images(&self) -> &Store {
        &self.images
    }

    /// The volumes.
    pub fn volumes(&self) -> &Volumes {
        &self.volumes
    }

    /// The networks.
    pub fn networks(&self) -> &lindocker_network::Networks {
        &self.networks
    }

    /// The event journal.
    pub fn events(&self) -> &crate::events::Journal {
        &self.events
    }

    /// `lindocker-shim`, installed beside our own binary.
    pub fn shim_binary(&self) -> Result<PathBuf, EngineError> {
        let shim = self.self_exe.with_file_name("lindocker-shim");
        if shim.is_file() {
            Ok(shim)
        } else {
            Err(EngineError::Invalid(format!("{} is missing (it is installed beside lindocker)", shim.display())))
        }
    }

    /// Where container `id`'s files are.
    pub fn paths(&self, id: &str) -> ContainerPaths {
        self.records.paths(id)
    }

    /// Where container `id`'s network namespace is bound.
    pub fn netns_path(&self, id: &str) -> PathBuf {
        self.paths(id).netns()
    }

    /// Sets up the container's network namespace before it starts: nothing for
    /// `--network host` or `container:`, a namespace with only `lo` for `none`, else
    /// through the engine's [`crate::netops::NetworkOps`].
    pub fn attach_network(&self, record: &Record) -> Result<(), EngineError> {
        match record.network.mode.as_str() {
            "host" => Ok(()),
            mode if mode.starts_with("container:") => Ok(()),
            // No netlink, no network state: any process can make it.
            "none" => lindocker_network::netns::create(&self.netns_path(&record.id)).map_err(EngineError::from),
            _ => self.netops.attach(self, record),
        }
    }

    /// Undoes [`Engine::attach_network`] (harmless if nothing is attached).
    pub fn detach_network(&self, record: &Record) {
        match record.network.mode.as_str() {
            "host" => {}
            mode if mode.starts_with("container:") => {}
            "none" => lindocker_network::netns::remove(&self.netns_path(&record.id)),
            _ => self.netops.detach(self, record),
        }
    }

    /// The shim's attach socket for container `id`.
    pub fn attach_socket(&self, id: &str) -> PathBuf {
        self.paths(id).attach_socket()
    }

    /// Where the runtime sends a container's pty master.
    pub fn console_socket(&self, id: &str) -> PathBuf {
        self.paths(id).console_socket()
    }

    /// The OCI runtime a container uses.
    pub fn runtime_for(&self, record: &Record) -> Result<OciRuntime, EngineError> {
        let name =
            if record.host_config.runtime.is_empty() { "lindocker-runtime" } else { &record.host_config.runtime };
        Ok(OciRuntime::resolve(name, &self.state)?.with_log(self.paths(&record.id).runtime_log()))
    }

    fn fs(&self, record: &Record) -> ContainerFs {
        ContainerFs::at(self.paths(&record.id).dir()).volatile(record.host_config.auto_remove)
    }

    /// Mounts the container's root filesystem (if it is not).
    pub fn mount_rootfs(&self, record: &Record) -> Result<PathBuf, EngineError> {
        let fs = self.fs(record);
        if record.host_config.user_ns && !lindocker_storage::overlay::is_mounted(&fs.merged_dir()) {
            crate::dataroot::admit_group(&self.root, crate::userns::ranges().1.host)?;
            let userns = crate::userns::namespace()?;
            return Ok(fs.mount_idmapped(self.images.layers(), &record.layers, std::os::fd::AsFd::as_fd(&userns))?);
        }
        Ok(fs.mount(self.images.layers(), &record.layers)?)
    }

    /// Unmounts the container's root filesystem and deletes its layers (read-write, init);
    /// the record stays.
    pub fn remove_filesystem(&self, record: &Record) -> Result<(), EngineError> {
        Ok(self.fs(record).remove()?)
    }

    /// Unmounts the container's root filesystem (if it is mounted).
    pub fn unmount_rootfs(&self, record: &Record) {
        let _ = self.fs(record).unmount();
    }

    /// Whether the kernel's OOM killer ended a process of the container's cgroup.
    pub fn oom_killed(&self, record: &Record) -> bool {
        let cgroup = self.cgroup_of(record);
        let cgroup = cgroup.trim_start_matches('/');
        let candidates = [
            format!("/sys/fs/cgroup/memory/{cgroup}/memory.oom_control"),
            format!("/sys/fs/cgroup/{cgroup}/memory.events"),
        ];
        candidates.iter().filter_map(|p| std::fs::read_to_string(p).ok()).any(|text| {
            text.lines()
                .any(|l| l.strip_prefix("oom_kill ").and_then(|n| n.trim().parse::<u64>().ok()).is_some_and(|n| n > 0))
        })
    }

    /// Makes a container: record, name, filesystem, volumes, bundle. On any failure
    /// nothing of it remains.
    pub fn create(&self, request: &CreateRequest) -> Result<Record, EngineError> {
        let id = request.id.clone().unwrap_or_else(ids::new_id);
        // Held until the record is written: a crash before that leaves a wreck that the
        // next command can tell from a create in progress.
        let busy = self.hold_busy(&id)?;
        let result = self.create_as(request, &id);
        match &result {
            Ok(record) => self.events.emit(Event::container(record, "create", &[])),
            Err(_) => self.forget_busy(&id),
        }
        drop(busy);
        result
    }

    fn create_as(&self, request: &CreateRequest, id: &str) -> Result<Record, EngineError> {
        let id = id.to_owned();
        // The image's layers must not be collected before the record naming them exists.
        let _content = self.images.content_guard()?;
        let image = match &request.built {
            Some(image) => image.clone(),
            None => self.images.find(&request.image)?,
        };
        test_pause("create-after-resolve");
        let image_config = self.images.config(&image)?;
        let ic = image_config.config().clone().unwrap_or_default();
        let abandoned = |owner: &str| self.clear_if_abandoned(owner);
        let name = match &request.name {
            Some(name) => {
                if !ids::valid_name(name) {
                    return Err(EngineError::BadOption {
                        option: "--name".into(),
                        value: name.clone(),
                        reason: "only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed".into(),
                    });
                }
                match self.records.claim_name(name, &id, &abandoned) {
                    // The holder may be a `--rm` container a crash ended: settled, it goes.
                    Err(EngineError::NameInUse { id: owner, .. })
                        if self.records.read(&owner).is_ok_and(|r| self.settle(r).is_none()) =>
                    {
                        self.records.claim_name(name, &id, &abandoned)?
                    }
                    other => other?,
                }
                name.clone()
            }
            None => {
                let mut attempt = 0;
                loop {
                    let candidate = ids::generated_name(&id, attempt);
                    match self.records.claim_name(&candidate, &id, &abandoned) {
                        Ok(()) => break candidate,
                        Err(EngineError::NameInUse { .. }) if attempt < 100 => attempt += 1,
                        Err(e) => return Err(e),
                    }
                }
            }
        };
        let result = self.create_claimed(request, &image, &ic, &id, &name);
        if result.is_err() {
            let paths = self.paths(&id);
            let _ = ContainerFs::at(paths.dir()).remove();
            let _ = std::fs::remove_dir_all(paths.dir());
            self.records.release_name(&name, &id);
        }
        result
    }

    /// The mounts `--volumes-from C[:ro|rw]` gives: C's binds and volumes (not its
    /// tmpfs), read-only with `ro`, writable with `rw`, else as C has them. A volume C
    /// made for itself stays C's: the borrower's `rm -v` leaves it.
    fn volumes_from(&self, value: &str) -> Result<Vec<MountSpec>, EngineError> {
        let bad = |reason: &str| EngineError::BadOption {
            option: "--volumes-from".into(),
            value: value.into(),
            reason: reason.into(),
        };
        let (name, mode) = match value.split_once(':') {
            None => (value, None),
            Some((name, "ro")) => (name, Some(true)),
            Some((name, "rw")) => (name, Some(false)),
            Some(_) => return Err(bad("expected CONTAINER[:ro|rw]")),
        };
        let source = self.records.read(&self.records.resolve(name)?)?;
        let mut out = Vec::new();
        for m in source.mounts {
            match m {
                MountSpec::Bind { source, target, readonly, propagation, nonrecursive } => out.push(MountSpec::Bind {
                    source,
                    target,
                    readonly: mode.unwrap_or(readonly),
                    propagation,
                    nonrecursive,
                }),
                MountSpec::Volume { name, target, readonly, .. } => out.push(MountSpec::Volume {
                    name,
                    target,
                    readonly: mode.unwrap_or(readonly),
                    anonymous: false,
                    nocopy: true,
                }),
                MountSpec::Tmpfs { .. } => {}
            }
        }
        Ok(out)
    }

    /// Renames container `id` (a name a crash stranded may be taken).
    pub fn rename(&self, id: &str, new_name: &str) -> Result<(), EngineError> {
        let old_name = self.records.read(id)?.name;
        self.records.rename(id, new_name, &|owner| self.clear_if_abandoned(owner))?;
        if let Ok(record) = self.records.read(id) {
            self.events.emit(Event::container(&record, "rename", &[("oldName", old_name)]));
        }
        Ok(())
    }

    /// Every container, each settled (see [`Engine::settle`]); directories a crashed
    /// `create` left without a record are cleared on the way (the same pass over
    /// `containers/` finds them: no cost when there are none).
    pub fn settled_all(&self) -> Result<Vec<Record>, EngineError> {
        let (ids, unrecorded) = self.records.scan()?;
        for id in unrecorded {
            self.clear_if_abandoned(&id);
        }
        Ok(ids.iter().filter_map(|id| self.records.read(id).ok()).filter_map(|r| self.settle(r)).collect())
    }

    /// Takes container `id`'s busy lock, shared, for as long as the file is kept: held by
    /// a CLI while it creates (and with `run`, starts) the container and by its shim for
    /// its whole life. Whoever finds it free while the record says the container is being
    /// made or started knows that the process doing it is dead.
    pub fn hold_busy(&self, id: &str) -> Result<FileLock, EngineError> {
        let path = self.paths(id).busy();
        loop {
            let lock = FileLock::shared(&path).map_err(|e| EngineError::io(&path, e))?;
            // A sweep (`Engine::sweep_wrecks`) may have removed the file between our open
            // and our lock: a lock on a file nobody else can find is no lock.
            if rustix::fs::fstat(lock.file()).is_ok_and(|st| st.st_nlink > 0) {
                return Ok(lock);
            }
        }
    }

    /// Removes container `id`'s busy lock file (the container is gone).
    pub(crate) fn forget_busy(&self, id: &str) {
        let _ = std::fs::remove_file(self.paths(id).busy());
    }

    /// Container `id`'s busy lock, taken exclusively if nobody holds it (then nobody can
    /// take it up while the caller settles what was left); `None` while someone works on
    /// the container.
    pub(crate) fn try_abandoned(&self, id: &str) -> Option<FileLock> {
        FileLock::try_exclusive(&self.paths(id).busy()).ok().flatten()
    }

    /// If container `id` has no record and nobody is making it, clears what a crashed
    /// `create` left of it (mount, directory) and returns true. Its name is the caller's.
    fn clear_if_abandoned(&self, id: &str) -> bool {
        if !crate::record::is_id(id) {
            return true; // a name file that points at no container at all
        }
        let Some(_busy) = self.try_abandoned(id) else { return false };
        if self.records.has_record(id) {
            return false;
        }
        self.clear_wreck(id);
        true
    }

    /// Removes the directory (mount included) of a container that has no record.
    pub(crate) fn clear_wreck(&self, id: &str) {
        let paths = self.paths(id);
        let _ = ContainerFs::at(paths.dir()).remove();
        let _ = rustix::mount::unmount(paths.rootfs(), rustix::mount::UnmountFlags::DETACH);
        self.unmount_shm(id);
        let _ = std::fs::remove_dir_all(paths.dir());
        let _ = std::fs::remove_file(paths.busy());
    }

    /// `rm` of what a crash left under `name_or_id` where no container is: a name that
    /// points at a container without a record, or such a container's directory by id.
    /// Returns whether there was such a wreck (and it is gone now).
    pub fn remove_wreck(&self, name_or_id: &str) -> bool {
        let name = name_or_id.trim_start_matches('/');
        let (id, named) = match self.records.name_owner(name) {
            Some(id) if !self.records.has_record(&id) => (id, true),
            _ if crate::record::is_id(name) && self.paths(name).dir().exists() && !self.records.has_record(name) => {
                (name.to_owned(), false)
            }
            _ => return false,
        };
        if !self.clear_if_abandoned(&id) {
            return false;
        }
        if named {
            self.records.release_name(name, &id);
        }
        true
    }

    /// Clears every wreck: container directories without a record that nobody is making,
    /// and names that point at nothing. Returns the ids cleared.
    pub fn sweep_wrecks(&self) -> Vec<String> {
        let unrecorded = self.records.scan().map(|(_, wrecks)| wrecks).unwrap_or_default();
        let mut cleared: Vec<String> = unrecorded.into_iter().filter(|id| self.clear_if_abandoned(id)).collect();
        for (name, id) in self.records.names() {
            // (A name whose container has no directory yet may be a create's in progress.)
            if !self.records.has_record(&id) && self.clear_if_abandoned(&id) {
                self.records.release_name(&name, &id);
            }
        }
        // Busy locks of containers that never got a directory (a `run` killed at once).
        for entry in std::fs::read_dir(&self.state).into_iter().flatten().flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            if let Some(id) = file.strip_suffix(".busy")
                && !self.paths(id).dir().exists()
                && self.try_abandoned(id).is_some()
                && !self.paths(id).dir().exists()
            {
                self.forget_busy(id);
            }
        }
        cleared.sort();
        cleared
    }

    /// Makes container `id` (its name claimed): the record from the request and the image
    /// config, checked; then its files, root filesystem, volumes and bundle; the record
    /// last.
    fn create_claimed(
        &self,
        request: &CreateRequest,
        image: &lindocker_image::ImageRecord,
        ic: &oci_config::Config,
        id: &str,
        name: &str,
    ) -> Result<Record, EngineError> {
        let mut record = self.new_record(request, image, ic, id, name)?;
        self.resolve_modes(&mut record)?;
        self.resolve_links(&mut record)?;
        let link_env = self.link_env(&record);
        record.config.env.extend(link_env);
        self.runtime_for(&record)?;
        self.write_init_files(&record)?;
        let rootfs = self.mount_rootfs(&record)?;
        self.make_volumes(&record, &rootfs)?;
        self.write_bundle(&record, &rootfs)?;
        // Mounted again by the shim at start; a created container holds no mount.
        if request.start_now {
            record.state.starting = true;
        } else {
            self.unmount_rootfs(&record);
        }
        // Last: the record makes the container exist (see the `record` module).
        self.records.write(&record)?;
        Ok(record)
    }

    /// The record `create` makes: the request laid over the image's config, checked
    /// (in this order: command, working directory, mounts, network, stop signal, health
    /// check, limits). Makes nothing but a missing `-v` bind source.
    fn new_record(
        &self,
        request: &CreateRequest,
        image: &lindocker_image::ImageRecord,
        ic: &oci_config::Config,
        id: &str,
        name: &str,
    ) -> Result<Record, EngineError> {
        let (entrypoint, cmd, args) = command(request, ic)?;
        let env = environment(request, ic)?;
        let mut labels: BTreeMap<String, String> = ic.labels().clone().unwrap_or_default().into_iter().collect();
        labels.extend(request.labels.clone());
        let workdir = working_dir(request, ic)?;
        let mounts = self.container_mounts(request, ic)?;
        let (network, exposed_ports) = self.network_config(request, ic)?;
        let stop_signal = stop_signal(request, ic)?;
        let healthcheck = self.healthcheck(request, image)?;
        let host = host_config(request)?;
        let hostname = if host.uts_mode == "host" {
            std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default().trim().to_owned()
        } else {
            request.hostname.clone().unwrap_or_else(|| id[..12].to_owned())
        };
        Ok(Record {
            id: id.to_owned(),
            name: name.to_owned(),
            created: crate::now(),
            image: image.id.clone(),
            image_name: request.image.clone(),
            layers: image.layers.clone(),
            config: Config {
                args,
                entrypoint,
                cmd,
                env,
                working_dir: workdir,
                user: request.user.clone().or_else(|| ic.user().clone()).unwrap_or_default(),
                hostname,
                tty: request.tty,
                open_stdin: request.stdin,
                labels,
                stop_signal,
                stop_timeout: request.stop_timeout.unwrap_or(10),
                attach: request.attach,
                healthcheck,
                exposed_ports,
                domainname: request.domainname.clone().unwrap_or_default(),
            },
            host_config: host,
            mounts,
            network,
            state: State::default(),
        })
    }

    /// The mounts: the request's (no target twice), `--volumes-from`'s, and an anonymous
    /// volume for each of the image's VOLUMEs not covered; a `-v` bind source that is
    /// missing is made (Docker's rule), a `--mount` one refused.
    fn container_mounts(
        &self,
        request: &CreateRequest,
        ic: &oci_config::Config,
    ) -> Result<Vec<MountSpec>, EngineError> {
        let mut mounts = request.mounts.clone();
        for (i, m) in mounts.iter().enumerate() {
            if mounts[..i].iter().any(|earlier| earlier.target() == m.target()) {
                return Err(EngineError::Invalid(format!("Duplicate mount point: {}", m.target())));
            }
        }
        for from in &request.host.volumes_from {
            for m in self.volumes_from(from)? {
                if !mounts.iter().any(|have| have.target() == m.target()) {
                    mounts.push(m);
                }
            }
        }
        for target in ic.volumes().clone().unwrap_or_default() {
            crate::options::check_mount_target(&target).map_err(|reason| EngineError::BadOption {
                option: "the image's VOLUME".into(),
                value: target.clone(),
                reason,
            })?;
            if !mounts.iter().any(|m| m.target() == target) {
                mounts.push(MountSpec::Volume {
                    name: ids::new_id(),
                    target,
                    readonly: false,
                    anonymous: true,
                    nocopy: false,
                });
            }
        }
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        for m in &mounts {
            if let MountSpec::Bind { source, propagation: Some(p), .. } = m
                && source.exists()
            {
                crate::mountflag::check_propagation(&mountinfo, source, p)?;
            }
            if let MountSpec::Bind { source, target, .. } = m
                && !source.exists()
            {
                // Docker's rule: `--mount` refuses a missing source, `-v` makes it (a
                // directory, as the host's root: the path is the admin's).
                if request.host.mounts.iter().any(|r| r.target == *target) {
                    return Err(EngineError::Invalid(format!(
                        "invalid mount config for type \"bind\": bind source path does not exist: {}",
                        source.display()
                    )));
                }
                std::fs::create_dir_all(source).map_err(|e| EngineError::io(source, e))?;
            }
        }
        Ok(mounts)
    }

    /// The network settings (the mode resolved, a bridge container on `bridge` unless it
    /// names networks, which must exist) and the exposed ports, `-P`'s published.
    fn network_config(
        &self,
        request: &CreateRequest,
        ic: &oci_config::Config,
    ) -> Result<(crate::record::NetworkConfig, Vec<String>), EngineError> {
        let mut network = request.network.clone();
        if network.mode.is_empty() {
            network.mode = "bridge".into();
        }
        if let Some(other) = network.mode.strip_prefix("container:") {
            let other_id = self.records.resolve(other)?;
            network.mode = format!("container:{other_id}");
            network.attachments.clear();
        } else if network.mode == "bridge" {
            if network.attachments.is_empty() {
                network
                    .attachments
                    .push(lindocker_network::Attachment { network: "bridge".into(), ..Default::default() });
            }
            for a in &network.attachments {
                if a.network != "bridge" {
                    self.networks.inspect(&a.network)?;
                }
            }
        } else {
            network.attachments.clear();
            if !network.ports.is_empty() && network.mode == "host" {
                network.ports.clear(); // Docker: published ports are discarded in host mode
            }
        }
        let mut exposed_ports: Vec<String> = ic.exposed_ports().clone().unwrap_or_default();
        for port in &request.expose {
            if !exposed_ports.contains(port) {
                exposed_ports.push(port.clone());
            }
        }
        if request.publish_all {
            // The keys are the image author's text: typed here, or the run is refused.
            for key in &exposed_ports {
                let parsed = lindocker_network::ports::parse_exposed(key).map_err(|e| EngineError::BadOption {
                    option: "-P".into(),
                    value: request.image.clone(),
                    reason: e.to_string(),
                })?;
                if let Some((container_port, protocol)) = parsed
                    && !network.ports.iter().any(|p| p.container_port == container_port && p.protocol == protocol)
                {
                    network.ports.push(lindocker_network::ports::PortSpec {
                        host_ip: std::net::Ipv4Addr::UNSPECIFIED.into(),
                        host_port: 0,
                        container_port,
                        protocol,
                    });
                }
            }
        }
        if network.mode == "host"
            && let Some(key) = request.host.sysctls.keys().find(|k| k.starts_with("net."))
        {
            // (The runtime checks it too; said here, before anything is made.)
            return Err(EngineError::Invalid(format!("sysctl {key:?} not allowed in host network namespace")));
        }
        if network.mode != "bridge" && !network.ports.is_empty() {
            return Err(EngineError::BadOption {
                option: "-p".into(),
                value: network.mode.clone(),
                reason: "ports can only be published on a bridge network".into(),
            });
        }
        Ok((network, exposed_ports))
    }

    /// Makes the container's directory, its bundle directory and its init layer
    /// (/etc/hosts, /etc/hostname, /etc/resolv.conf).
    fn write_init_files(&self, record: &Record) -> Result<(), EngineError> {
        let paths = self.paths(&record.id);
        let hostname = &record.config.hostname;
        std::fs::create_dir_all(paths.bundle()).map_err(|e| EngineError::io(paths.dir(), e))?;
        let mut hosts =
            format!("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t{hostname}\n");
        for line in &record.network.extra_hosts {
            hosts.push_str(line);
            hosts.push('\n');
        }
        let resolv = self.resolv_conf(record);
        self.fs(record).create(&[
            ("etc/hosts", hosts.as_bytes()),
            ("etc/hostname", format!("{hostname}\n").as_bytes()),
            ("etc/resolv.conf", resolv.as_bytes()),
        ])?;
        Ok(())
    }

    /// The container's /etc/resolv.conf. On a network the DNS server serves, that
    /// server (on the network's gateway) is the only name server: it answers the names
    /// of the network and forwards the rest (to `--dns`); its search and options stay.
    fn resolv_conf(&self, record: &Record) -> String {
        let server = self.dns_server_for(record).map(|a| vec![a.to_string()]);
        crate::resolv::render(
            &host_resolv_conf(),
            server.as_ref().unwrap_or(&record.network.dns),
            &record.network.dns_search,
            &record.network.dns_options,
        )
    }

    /// Writes the container's /etc/resolv.conf again for the networks its record names
    /// now (after `network connect`/`disconnect`), as Docker points a container it
    /// connects to a user network at its embedded server; in place, as the container
    /// sees the file through a bind mount of its inode.
    pub(crate) fn refresh_resolv_conf(&self, record: &Record) -> Result<(), EngineError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.paths(&record.id).dir().join("init/etc/resolv.conf");
        let text = self.resolv_conf(record);
        // The container can write this file (to any size): at most as much as the text
        // (and one byte more) is read to compare.
        let mut now = Vec::with_capacity(text.len() + 1);
        let same = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(&path)
            .and_then(|f| std::io::Read::read_to_end(&mut std::io::Read::take(f, text.len() as u64 + 1), &mut now))
            .is_ok_and(|_| now == text.as_bytes());
        if same {
            return Ok(());
        }
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(&path)
            .map_err(|e| EngineError::io(&path, e))?;
        file.write_all(text.as_bytes()).map_err(|e| EngineError::io(&path, e))
    }

    /// The address of the DNS server for `record`: the gateway of the first of its
    /// networks the server serves (not the default `bridge`, as in Docker, nor one made
    /// with `--disable-dns`, as in Podman).
    fn dns_server_for(&self, record: &Record) -> Option<std::net::IpAddr> {
        if record.network.mode != "bridge" {
            return None;
        }
        record.network.attachments.iter().find_map(|a| {
            if a.network == lindocker_network::store::DEFAULT_NETWORK {
                return None;
            }
            let (network, _) = self.networks.inspect(&a.network).ok()?;
            lindocker_network::dns::answer::serves(&network).then_some(network.pool.gateway.into())
        })
    }

    /// Makes the container's volumes (with `--mount`'s labels and options), filled from
    /// the image unless `nocopy`, handed to the user namespace's root with `--userns`.
    fn make_volumes(&self, record: &Record, rootfs: &Path) -> Result<(), EngineError> {
        for m in &record.mounts {
            if let MountSpec::Volume { name, target, anonymous, nocopy, .. } = m {
                // `--mount volume-label=` and `volume-opt=` go to a volume this makes.
                let options = record
                    .host_config
                    .mounts
                    .iter()
                    .find(|r| r.typ == "volume" && r.target == *target)
                    .and_then(|r| r.volume_options.clone())
                    .unwrap_or_default();
                let info = self.volumes.create_with_options(
                    name,
                    options.labels,
                    *anonymous,
                    options.driver_config.options,
                )?;
                if !info.options.is_empty() {
                    continue; // its files are elsewhere: nothing to copy up, nothing to hand over
                }
                if !nocopy {
                    self.volumes.fill_from(name, rootfs, target)?;
                }
                if record.host_config.user_ns {
                    crate::userns::hand_over(&self.volumes.data_dir(name))?;
                }
            }
        }
        Ok(())
    }

    /// Writes the bundle's config.json for `record`, its root filesystem at `rootfs`.
    fn write_bundle(&self, record: &Record, rootfs: &Path) -> Result<(), EngineError> {
        let paths = self.paths(&record.id);
        let netns = match record.network.mode.as_str() {
            "host" => None,
            mode => Some(self.netns_path(mode.strip_prefix("container:").unwrap_or(&record.id))),
        };
        let init = paths.init();
        let spec = bundle::spec(
            record,
            rootfs,
            &self.volumes,
            &self.cgroup_of(record),
            &self.cli_binary(),
            Some(&init),
            netns,
        )?;
        bundle::write_config(&paths.config(), &spec)?;
        Ok(())
    }

    /// The container's health check: the flags' laid over the image's, as Docker merges
    /// them (a field the flags leave zero is the image's), checked as Docker checks it.
    fn healthcheck(
        &self,
        request: &CreateRequest,
        image: &lindocker_image::ImageRecord,
    ) -> Result<Option<lindocker_image::health::Healthcheck>, EngineError> {
        let config = self.images.read_blob(&image.id)?;
        // Typed at `load`/`pull`; an image stored before that was checked is checked now.
        let from_image = lindocker_image::health::from_image_config(&config).map_err(|reason| {
            EngineError::BadOption { option: "the image's HEALTHCHECK".into(), value: request.image.clone(), reason }
        })?;
        let merged = match (request.healthcheck.clone(), from_image) {
            (Some(flags), Some(image)) => Some(flags.over(&image)),
            (flags, image) => flags.or(image),
        };
        if let Some(check) = &merged {
            check.check().map_err(EngineError::Invalid)?;
        }
        Ok(merged)
    }

    /// Starts the container's shim and attaches to it; the caller reads the frames
    /// (`Started`, output, `Error`, `Exit`).
    pub fn start(&self, id: &str) -> Result<UnixStream, EngineError> {
        let record = self.reconcile(self.records.read(id)?);
        if record.state.status.is_live() {
            return Err(EngineError::State(format!("container {} is already running", record.name)));
        }
        self.spawn_shim(id)?.go(false)
    }

    /// Starts the shim of container `id`, which may not exist yet: `run` starts it first,
    /// so that the shim's own start-up goes on beside `create`. The shim waits for
    /// [`PendingShim::go`], and if the handle is dropped first it exits having touched
    /// nothing.
    pub fn spawn_shim(&self, id: &str) -> Result<PendingShim, EngineError> {
        use std::ffi::CString;
        use std::os::unix::ffi::OsStrExt;
        let socket = self.attach_socket(id);
        // Our end of a socket pair is the shim's first client; it gets the other as stdin.
        let (ours, theirs) = UnixStream::pair().map_err(|e| EngineError::io(&socket, e))?;
        let shim = self.shim_binary()?;
        let c =
            |s: &std::ffi::OsStr| CString::new(s.as_bytes()).map_err(|_| EngineError::Invalid(format!("{s:?}: NUL")));
        let argv = [
            c(shim.as_os_str())?,
            c(self.root.as_os_str())?,
            c(self.state.as_os_str())?,
            c(self.cgroup_parent.as_ref())?,
            c(id.as_ref())?,
        ];
        // The shim's fork becomes the container's init: it runs from a sealed image of
        // its binary (CVE-2019-5736), made in the spawned child, so that the shim need
        // not re-execute itself. Without one, the shim seals itself.
        use lindocker_runtime::sealed_exe;
        let sealed = sealed_exe::overlay_params(&shim).and_then(|(l, n)| Ok((l, n, sealed_exe::sealed_env(&shim)?)));
        let image =
            sealed.as_ref().ok().map(|(lowerdir, name, envp)| lindocker_sys::SealedImage { lowerdir, name, envp });
        lindocker_sys::spawn_detached(&argv, std::os::fd::AsFd::as_fd(&theirs), image.as_ref())
            .map_err(|e| EngineError::io(&shim, e))?;
        Ok(PendingShim(ours))
    }

    /// Reads frames until the container runs (`Ok`) or failed to start (`Err` with its
    /// message and exit code).
    pub fn wait_started(stream: &mut UnixStream) -> Result<(), (String, i32)> {
        let mut message = String::from("the container's shim ended before it started");
        loop {
            match read_frame(&mut *stream) {
                Ok(Some((Kind::Started, _))) => return Ok(()),
                Ok(Some((Kind::Error, text))) => message = String::from_utf8_lossy(&text).into_owned(),
                Ok(Some((Kind::Exit, code))) => {
                    return Err((message, String::from_utf8_lossy(&code).parse().unwrap_or(125)));
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => return Err((message, 125)),
            }
        }
    }

    /// Waits until the container's shim is done with it; returns the exit code.
    pub fn wait(&self, id: &str) -> Result<i32, EngineError> {
        let record = self.reconcile(self.records.read(id)?);
        if record.state.status.is_live()
            && let Ok(mut stream) = lindocker_runtime::socket_path::connect(&self.attach_socket(id))
        {
            while let Ok(Some((kind, payload))) = read_frame(&mut stream) {
                if kind == Kind::Exit {
                    return Ok(String::from_utf8_lossy(&payload).parse().unwrap_or(255));
                }
            }
        }
        // The shim is gone: the record has the last word.
        let record = self.reconcile(self.records.read(id).map_err(|_| EngineError::NoSuchContainer(id.into()))?);
        Ok(record.state.exit_code)
    }

    /// Sends `signal` to the container's init (all its processes with `all`).
    pub fn kill(&self, id: &str, signal: &str) -> Result<(), EngineError> {
        let record = self.reconcile(self.records.read(id)?);
        if !matches!(record.state.status, Status::Running | Status::Paused) {
            return Err(EngineError::State(format!(
                "Cannot kill container: {}: container is not running",
                record.name
            )));
        }
        let signal = crate::options::parse_signal("--signal", signal)?.to_string();
        // Best effort: a state that cannot be written (a full disk) must not keep the
        // container alive.
        let _ = self.records.update_state(id, |st| st.stopped_by_user = true);
        // Before the signal: the shim reports the death it causes (`die`) after it.
        self.events.emit(Event::container(&record, "kill", &[("signal", signal.clone())]));
        let runtime = self.runtime_for(&record)?;
        if let Err(e) = runtime.run(&["kill", "--", id, &signal]) {
            // It may have exited since we looked, before its shim recorded it: that is
            // "not running" (Docker's 409), not a failure of the runtime.
            let gone = runtime.run(&["state", "--", id]).map_or(true, |state| {
                serde_json::from_str::<serde_json::Value>(&state).is_ok_and(|s| s["status"] == "stopped")
            });
            if gone {
                return Err(EngineError::State(format!(
                    "Cannot kill container: {}: container is not running",
                    record.name
                )));
            }
            return Err(e);
        }
        Ok(())
    }

    /// `stop`: the stop signal, then SIGKILL after `timeout` seconds.
    pub fn stop(&self, id: &str, timeout: Option<u32>) -> Result<(), EngineError> {
        let record = self.reconcile(self.records.read(id)?);
        if !record.state.status.is_live() {
            return Ok(());
        }
        // Best effort, as for `kill`.
        let _ = self.records.update_state(id, |st| st.stopped_by_user = true);
        let runtime = self.runtime_for(&record)?;
        if record.state.status == Status::Paused {
            let _ = runtime.run(&["resume", "--", id]);
        }
        // Checked at create; a record an older version wrote may hold anything.
        let signal = crate::options::parse_signal("stop signal", &record.config.stop_signal).unwrap_or(15).to_string();
        let timeout = Duration::from_secs(u64::from(timeout.unwrap_or(record.config.stop_timeout)));
        let stream = lindocker_runtime::socket_path::connect(&self.attach_socket(id)).ok();
        self.events.emit(Event::container(&record, "kill", &[("signal", signal.clone())]));
        let _ = runtime.run(&["kill", "--", id, &signal]);
        if !self.wait_exit(stream, timeout) {
            self.events.emit(Event::container(&record, "kill", &[("signal", "9".into())]));
            let _ = runtime.run(&["kill", "--all", "--", id, "KILL"]);
            let stream = lindocker_runtime::socket_path::connect(&self.attach_socket(id)).ok();
            self.wait_exit(stream, Duration::from_secs(10));
        }
        self.events.emit(Event::container(&record, "stop", &[]));
        Ok(())
    }

    /// Waits up to `timeout` for the Exit frame on an attach stream.
    fn wait_exit(&self, stream: Option<UnixStream>, timeout: Duration) -> bool {
        let Some(mut stream) = stream else { return true };
        let _ = stream.set_read_timeout(Some(timeout.max(Duration::from_millis(1))));
        let deadline = Instant::now() + timeout;
        loop {
            match read_frame(&mut stream) {
                Ok(Some((Kind::Exit, _))) | Ok(None) => return true,
                // Output keeps coming while the container lives; the deadline still holds.
                Ok(Some(_)) if Instant::now() < deadline => {}
                Ok(Some(_)) | Err(_) => return false,
            }
        }
    }

    /// Removes a container; a live one only with `force` (killed first).
    pub fn remove(&self, id: &str, force: bool, volumes: bool) -> Result<(), EngineError> {
        let mut record = self.reconcile(self.records.read(id)?);
        // A start in progress (its CLI or shim alive) is let finish first: removing the
        // container under it would leave what it makes next to nobody.
        let deadline = Instant::now() + Duration::from_secs(10);
        while record.state.starting && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
            record = self.reconcile(self.records.read(id)?);
        }
        if record.state.status.is_live() {
            if !force {
                return Err(EngineError::State(format!(
                    "You cannot remove a running container {}. Stop the container before attempting removal or force remove",
                    record.id
                )));
            }
            // Best effort, as for `kill`; a `--rm` container that could not be told
            // removes itself (below, it is then gone).
            let _ = self.records.update(id, |r| {
                r.state.stopped_by_user = true;
                r.host_config.auto_remove = false;
            });
            let stream = lindocker_runtime::socket_path::connect(&self.attach_socket(id)).ok();
            let runtime = self.runtime_for(&record)?;
            let _ = runtime.run(&["resume", "--", id]);
            self.events.emit(Event::container(&record, "kill", &[("signal", "9".into())]));
            let _ = runtime.run(&["kill", "--all", "--", id, "KILL"]);
            self.wait_exit(stream, Duration::from_secs(10));
        }
        // The shim still writes the container's last state (and, on a full disk, gives up
        // on its log) after it reports the exit: the directory goes once it has let go.
        self.wait_for_shim(id, Duration::from_secs(10));
        let record = match self.records.read(id) {
            Err(EngineError::NoSuchContainer(_)) if record.host_config.auto_remove => return Ok(()),
            other => other?,
        };
        self.remove_now(&record, volumes)
    }

    /// Waits, at most `timeout`, until nobody holds container `id`'s busy lock: its shim
    /// (and any CLI starting it) has ended.
    pub(crate) fn wait_for_shim(&self, id: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.try_abandoned(id).is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Tears down and deletes what a container has, without asking. A volume goes with
    /// `volumes` if the container made it for itself.
    pub fn remove_now(&self, record: &Record, volumes: bool) -> Result<(), EngineError> {
        let _lock = self.records.lock(&record.id)?;
        // The runtime forgets a container when its shim sees it end; a container that ran
        // without one (a crash between create and start) still needs telling.
        self.forget_in_runtime(record);
        // The shim detaches when the container ends; only a container left half-made (or
        // whose shim died) still has a namespace to take down here.
        if self.netns_path(&record.id).exists() {
            self.detach_network(record);
        }
        self.unmount_shm(&record.id);
        self.fs(record).remove()?;
        if volumes {
            for m in &record.mounts {
                if let MountSpec::Volume { name, anonymous: true, .. } = m
                    && !self.volume_used_by_another(name, &record.id)
                {
                    let _ = self.volumes.remove(name);
                }
            }
        }
        let _ = std::fs::remove_file(self.attach_socket(&record.id));
        let _ = std::fs::remove_file(self.console_socket(&record.id));
        self.records.remove(record)?;
        let _ = std::fs::remove_file(self.paths(&record.id).busy());
        self.events.emit(Event::container(record, "destroy", &[]));
        Ok(())
    }

    /// Whether a container other than `id` mounts volume `name` (`--volumes-from` shares
    /// anonymous volumes: Docker's `rm -v` keeps those in use).
    fn volume_used_by_another(&self, name: &str, id: &str) -> bool {
        let ids = self.records.scan().map(|(ids, _)| ids).unwrap_or_default();
        ids.iter()
            .filter(|other| other.as_str() != id)
            .filter_map(|other| self.records.read(other).ok())
            .any(|r| r.mounts.iter().any(|m| matches!(m, MountSpec::Volume { name: n, .. } if n == name)))
    }

    /// Tells the runtime to forget the container if it knows it (killing what runs).
    fn forget_in_runtime(&self, record: &Record) {
        let runtime_state = self.state.join("runtime").join(
            Path::new(if record.host_config.runtime.is_empty() {
                "lindocker-runtime"
            } else {
                &record.host_config.runtime
            })
            .file_name()
            .unwrap_or_default(),
        );
        if runtime_state.join(&record.id).exists()
            && let Ok(runtime) = self.runtime_for(record)
        {
            runtime.delete_force(&record.id);
        }
    }

    /// [`Engine::settle`], for callers that need a record either way: a container that
    /// settling removed comes back as `Removing`.
    pub fn reconcile(&self, record: Record) -> Record {
        let (mut record, exists) = self.settle_record(record);
        if !exists {
            record.state.status = Status::Removing;
        }
        record
    }

    /// Brings a record in line with what runs, the way the first command after a boot
    /// does (see `boot`), for one container a crash left behind: if its shim is gone
    /// (killed) the container is cleaned up and marked exited, then removed (`--rm`) or
    /// started again (its restart policy); if the CLI or shim that was starting it died
    /// (the record says `starting` and nobody holds its busy lock) what it had set up is
    /// undone and it is left created, or removed (`--rm`). `None`: it was removed.
    ///
    /// Cheap for everything else: one look at the record, no system call.
    pub fn settle(&self, record: Record) -> Option<Record> {
        let (record, exists) = self.settle_record(record);
        exists.then_some(record)
    }

    /// [`Engine::settle`]: the record as it is now, and whether the container still exists.
    fn settle_record(&self, record: Record) -> (Record, bool) {
        let record = self.thaw_abandoned(record);
        let (current, settled) = self.stop_tracking(record);
        let Some(was_live) = settled else { return (current, true) };
        if current.host_config.auto_remove {
            let _ = self.remove_now(&current, true);
            return (current, false);
        }
        if was_live && crate::boot::restarts_at_boot(&current, true) {
            if let Ok(mut stream) = self.start(&current.id) {
                let _ = Engine::wait_started(&mut stream);
            }
            return (self.records.read(&current.id).unwrap_or(current), true);
        }
        (current, true)
    }

    /// The clean-up part of [`Engine::settle`], no policy: `Some(was_live)` if it did
    /// something (a dead shim's container marked exited, or an abandoned start undone).
    pub(crate) fn stop_tracking(&self, record: Record) -> (Record, Option<bool>) {
        let shim_dead = |r: &Record| r.state.status.is_live() && !alive(r.state.shim_pid, r.state.shim_start);
        if !shim_dead(&record) && !record.state.starting {
            return (record, None);
        }
        // A start in progress holds the busy lock; held for the time of the clean-up.
        let abandoned = if shim_dead(&record) { None } else { self.try_abandoned(&record.id) };
        if !shim_dead(&record) && abandoned.is_none() {
            return (record, None);
        }
        let Ok(_lock) = self.records.lock(&record.id) else { return (record, None) };
        let Ok(mut current) = self.records.read(&record.id) else { return (record, None) };
        let was_live = current.state.status.is_live();
        let start_abandoned = current.state.starting && !was_live && abandoned.is_some();
        if !shim_dead(&current) && !start_abandoned {
            return (current, None);
        }
        self.forget_in_runtime(&current);
        self.unmount_rootfs(&current);
        self.detach_network(&current);
        current.state.pid = 0;
        current.state.starting = false;
        current.state.paused_by = None;
        if was_live {
            current.state.status = Status::Exited;
            if current.state.exit_code == 0 {
                current.state.exit_code = 137;
            }
            current.state.finished_at = Some(crate::now());
            current.state.error = "the container's monitor (shim) died; the container was stopped".into();
        } else {
            current.state.status = Status::Created;
            current.state.error = "the command starting the container was killed before it ran".into();
        }
        let _ = self.records.write_state(&current);
        if was_live {
            // Its shim, which would have said so, is dead.
            self.events.emit(Event::container(&current, "die", &[("exitCode", current.state.exit_code.to_string())]));
        }
        (current, Some(was_live))
    }

    /// Freezes or thaws the container.
    pub fn pause(&self, id: &str, pause: bool) -> Result<(), EngineError> {
        let record = self.reconcile(self.records.read(id)?);
        let (want, verb) = if pause { (Status::Running, "pause") } else { (Status::Paused, "resume") };
        if record.state.status != want {
            return Err(EngineError::State(format!(
                "container {} is not {}",
                record.name,
                if pause { "running" } else { "paused" }
            )));
        }
        self.runtime_for(&record)?.run(&[verb, "--", id])?;
        self.records.update_state(id, |st| st.status = if pause { Status::Paused } else { Status::Running })?;
        self.events.emit(Event::container(&record, if pause { "pause" } else { "unpause" }, &[]));
        Ok(())
    }

    /// Freezes a running container for the time of a `commit`, marked as ours first:
    /// if we are killed before [`Engine::resume_after_commit`], the next command that
    /// reads the record thaws it (see [`Engine::settle`]).
    pub fn pause_for_commit(&self, id: &str) -> Result<(), EngineError> {
        let me = rustix::process::getpid().as_raw_nonzero().get();
        let mark = crate::record::process_start(me).map(|start| (me, start));
        let (record, running) = self.records.update_state(id, |st| {
            let running = st.status == Status::Running;
            if running {
                st.paused_by = mark;
            }
            running
        })?;
        if !running {
            return Err(EngineError::State(format!("container {} is not running", record.name)));
        }
        if let Err(e) = self.pause(id, true) {
            let _ = self.records.update_state(id, |st| st.paused_by = None);
            return Err(e);
        }
        Ok(())
    }

    /// Thaws what [`Engine::pause_for_commit`] froze.
    pub fn resume_after_commit(&self, id: &str) {
        let _ = self.pause(id, false);
        let _ = self.records.update_state(id, |st| st.paused_by = None);
    }

    /// A container frozen by a `commit` whose CLI died is thawed.
    fn thaw_abandoned(&self, record: Record) -> Record {
        let abandoned = |r: &Record| r.state.paused_by.is_some_and(|(pid, start)| !alive(pid, start));
        if !abandoned(&record) {
            return record;
        }
        let Ok(_lock) = self.records.lock(&record.id) else { return record };
        let Ok(mut current) = self.records.read(&record.id) else { return record };
        if !abandoned(&current) {
            return current;
        }
        if current.state.status.is_live()
            && let Ok(runtime) = self.runtime_for(&current)
        {
            let _ = runtime.run(&["resume", &current.id]);
            if current.state.status == Status::Paused {
                current.state.status = Status::Running;
            }
        }
        current.state.paused_by = None;
        let _ = self.records.write_state(&current);
        current
    }

    /// The runtime's `events --stats` for a running container.
    pub fn stats(&self, record: &Record) -> Result<Value, EngineError> {
        let out = self.runtime_for(record)?.run(&["events", "--stats", "--", &record.id])?;
        serde_json::from_str(&out).map_err(|e| EngineError::Runtime(format!("events --stats: {e}")))
    }
}

/// A test-only pause: with `LINDOCKER_TEST_PAUSE_AT=<point>` in the environment, the
/// command sleeps `LINDOCKER_TEST_PAUSE_MS` (default 500) at `point`, so that a fault test
/// can race another command against that exact moment (`crates/cli/tests/faults`).
/// Points: `create-after-resolve` (the image is resolved, no record written yet).
fn test_pause(point: &str) {
    if std::env::var_os("LINDOCKER_TEST_PAUSE_AT").is_some_and(|at| at == point) {
        let ms = std::env::var("LINDOCKER_TEST_PAUSE_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(500);
        std::thread::sleep(Duration::from_millis(ms));
    }
}

/// The host's resolv.conf without loopback name servers (they mean nothing inside).
fn host_resolv_conf() -> String {
    let text = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    text.lines()
        .filter(|l| !(l.starts_with("nameserver") && (l.contains(" 127.") || l.contains(" ::1"))))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Image config types.
mod oci_config {
    pub use oci_spec::image::Config;
}

/// What a container runs: its entrypoint, its command, and the two joined.
type Command = (Vec<String>, Vec<String>, Vec<String>);

/// The entrypoint, command and the two joined, from the request or else the image; an
/// error if there is nothing to run.
fn command(request: &CreateRequest, ic: &oci_config::Config) -> Result<Command, EngineError> {
    let entrypoint: Vec<String> = match &request.entrypoint {
        Some(e) if e.is_empty() => Vec::new(),
        Some(e) => vec![e.clone()],
        None => ic.entrypoint().clone().unwrap_or_default(),
    };
    let cmd: Vec<String> = if !request.cmd.is_empty() {
        request.cmd.clone()
    } else if request.entrypoint.is_some() {
        Vec::new()
    } else {
        ic.cmd().clone().unwrap_or_default()
    };
    let args: Vec<String> = entrypoint.iter().chain(cmd.iter()).cloned().collect();
    if args.is_empty() {
        return Err(EngineError::Invalid("no command specified (the image has no Cmd or Entrypoint)".into()));
    }
    Ok((entrypoint, cmd, args))
}

/// The image's environment (with Docker's PATH if it has none), `-e` laid over it: a
/// bare `-e KEY` takes the caller's value, or drops the key if the caller has none.
fn environment(request: &CreateRequest, ic: &oci_config::Config) -> Result<Vec<String>, EngineError> {
    // A bare `KEY` unsets; the CLI gives `KEY=VALUE` pairs, its own values filled in.
    crate::process::check_env(&request.env)?;
    let mut env: Vec<String> = ic.env().clone().unwrap_or_default();
    crate::process::with_default_path(&mut env);
    crate::process::override_env(&mut env, &request.env);
    Ok(env)
}

/// `-w`, else the image's; absolute or none.
fn working_dir(request: &CreateRequest, ic: &oci_config::Config) -> Result<String, EngineError> {
    let workdir = request.workdir.clone().or_else(|| ic.working_dir().clone()).unwrap_or_default();
    if !workdir.is_empty() && !workdir.starts_with('/') {
        return Err(EngineError::BadOption {
            option: "-w".into(),
            value: workdir,
            reason: "the working directory must be absolute".into(),
        });
    }
    Ok(workdir)
}

/// `--stop-signal`, else the image's STOPSIGNAL, else SIGTERM; checked.
fn stop_signal(request: &CreateRequest, ic: &oci_config::Config) -> Result<String, EngineError> {
    let stop_signal = match (&request.stop_signal, ic.stop_signal()) {
        (Some(flag), _) => crate::options::parse_signal("--stop-signal", flag).map(|_| flag.clone())?,
        (None, Some(image)) => crate::options::parse_signal("the image's STOPSIGNAL", image).map(|_| image.clone())?,
        (None, None) => "SIGTERM".into(),
    };
    Ok(stop_signal)
}

/// The request's limits and confinement, checked, with the default runtime named.
fn host_config(request: &CreateRequest) -> Result<HostConfig, EngineError> {
    let mut host = request.host.clone();
    if host.runtime.is_empty() {
        host.runtime = "lindocker-runtime".into();
    }
    crate::resources::check(&host)?;
    crate::resources::check_rt_supported(&host)?;
    if host.uts_mode == "host" && request.hostname.is_some() {
        return Err(EngineError::Invalid("conflicting options: hostname and the UTS mode (--uts host)".into()));
    }
    Ok(host)
}
