//! Docker's JSON for a container (`inspect`, `GET /containers/{id}/json`): one shape
//! for the CLI and the API.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::Engine;
use crate::record::{Record, Status};

impl Engine {
    /// Docker-shaped JSON for a container.
    pub fn inspect_json(&self, r: &Record) -> Value {
        let engine = self;
        let dir = engine.records.dir(&r.id);
        let s = &r.state;
        let h = &r.host_config;
        let binds: Vec<String> = r
            .mounts
            .iter()
            .filter_map(|m| match m {
                crate::options::MountSpec::Bind { source, target, readonly, .. } => {
                    Some(format!("{}:{target}{}", source.display(), if *readonly { ":ro" } else { "" }))
                }
                _ => None,
            })
            .collect();
        let mounts: Vec<Value> = r
        .mounts
        .iter()
        .map(|m| match m {
            crate::options::MountSpec::Bind { source, target, readonly, propagation, .. } => json!({
                "Type": "bind", "Source": source, "Destination": target, "Mode": "", "RW": !readonly,
                "Propagation": propagation.as_deref().unwrap_or("rprivate"),
            }),
            crate::options::MountSpec::Volume { name, target, readonly, .. } => json!({
                "Type": "volume", "Name": name, "Source": engine.volumes.data_dir(name), "Destination": target, "Driver": "local", "RW": !readonly,
            }),
            crate::options::MountSpec::Tmpfs { target, options } => {
                json!({ "Type": "tmpfs", "Destination": target, "Options": options, "RW": true })
            }
        })
        .collect();
        // `-p` as given: an unset host address or port is "" (Docker's nat.PortMap).
        let mut port_bindings: std::collections::BTreeMap<String, Vec<Value>> = std::collections::BTreeMap::new();
        for p in &r.network.ports {
            port_bindings.entry(format!("{}/{}", p.container_port, p.protocol)).or_default().push(json!({
                "HostIp": if p.host_ip == std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED) { String::new() } else { p.host_ip.to_string() },
                "HostPort": if p.host_port == 0 { String::new() } else { p.host_port.to_string() },
            }));
        }
        let (restart_name, max_retry) = match h.restart {
            crate::options::RestartPolicy::OnFailure(n) => ("on-failure".to_owned(), n),
            other => (other.name(), 0),
        };
        let mut state = json!({
            "Status": s.status, "Running": matches!(s.status, Status::Running | Status::Paused),
            "Paused": s.status == Status::Paused, "Restarting": s.status == Status::Restarting,
            "OOMKilled": s.oom_killed, "Dead": false, "Pid": s.pid, "ExitCode": s.exit_code, "Error": s.error,
            "StartedAt": s.started_at.clone().unwrap_or_else(|| "0001-01-01T00:00:00Z".into()),
            "FinishedAt": s.finished_at.clone().unwrap_or_else(|| "0001-01-01T00:00:00Z".into()),
        });
        if let Some(health) = &s.health {
            state["Health"] = json!(health);
        }
        let mut config = json!({
            "Hostname": r.config.hostname, "Domainname": r.config.domainname, "User": r.config.user, "Env": r.config.env, "Cmd": r.config.cmd,
            "Entrypoint": r.config.entrypoint, "Image": r.image_name, "WorkingDir": r.config.working_dir,
            "Labels": r.config.labels, "StopSignal": r.config.stop_signal, "StopTimeout": r.config.stop_timeout,
            "Tty": r.config.tty, "OpenStdin": r.config.open_stdin, "AttachStdin": r.config.attach.stdin,
            "AttachStdout": r.config.attach.stdout, "AttachStderr": r.config.attach.stderr,
            "ExposedPorts": (!r.config.exposed_ports.is_empty()).then(|| r.config.exposed_ports.iter().map(|k| (k.clone(), json!({}))).collect::<serde_json::Map<_, _>>()),
        });
        if let Some(check) = &r.config.healthcheck {
            config["Healthcheck"] = json!(check);
        }
        let mut out = json!({
            "Id": r.id,
            "Created": r.created,
            "Path": r.config.args.first(),
            "Args": r.config.args.iter().skip(1).collect::<Vec<_>>(),
            "State": state,
            "Image": r.image,
            "ResolvConfPath": dir.join("init/etc/resolv.conf"),
            "HostnamePath": dir.join("init/etc/hostname"),
            "HostsPath": dir.join("init/etc/hosts"),
            "LogPath": if h.log_driver == crate::log_config::LogDriver::None { String::new() } else { dir.join("log.json").display().to_string() },
            "Name": format!("/{}", r.name),
            "RestartCount": s.restart_count,
            "Driver": "overlay",
            "HostConfig": {
                "Binds": binds, "Memory": h.memory.unwrap_or(0), "MemorySwap": h.memory_swap.unwrap_or(0),
                "NanoCpus": h.nano_cpus.unwrap_or(0), "CpuShares": h.cpu_shares.unwrap_or(0),
                "CpusetCpus": h.cpuset_cpus.clone().unwrap_or_default(), "PidsLimit": h.pids_limit,
                "Ulimits": h.ulimits.iter().map(|u| json!({ "Name": u.name, "Soft": u.soft, "Hard": u.hard })).collect::<Vec<_>>(),
                "CapAdd": h.cap_add, "CapDrop": h.cap_drop, "Privileged": h.privileged, "ReadonlyRootfs": h.read_only,
                "RestartPolicy": { "Name": restart_name, "MaximumRetryCount": max_retry },
                "AutoRemove": h.auto_remove, "Init": h.init, "Runtime": h.runtime, "NetworkMode": r.network.mode,
                "PortBindings": port_bindings,
                "Dns": r.network.dns, "ExtraHosts": r.network.extra_hosts,
                "SecurityOpt": h.seccomp.as_ref().map(|s| if s == "unconfined" { vec!["seccomp=unconfined".to_owned()] } else { vec!["seccomp=<profile>".to_owned()] }).unwrap_or_default(),
                "LogConfig": { "Type": h.log_driver.name(), "Config": h.log_opts },
                        },
            "GraphDriver": {
                "Name": "overlay",
                "Data": {
                    "MergedDir": dir.join("merged"), "UpperDir": dir.join("upper"), "WorkDir": dir.join("work"),
                    "LowerDir": std::iter::once(dir.join("init").display().to_string())
                        .chain(r.layers.iter().rev().filter_map(|c| engine.images.layers().diff_dir(c).ok()).map(|d| d.display().to_string()))
                        .collect::<Vec<_>>().join(":"),
                },
            },
            "Mounts": mounts,
            "NetworkSettings": engine.network_settings(&r.id),
            "Config": config,
        });
        // Docker's names for the mount, device, sysctl, group and namespace flags.
        let extra = json!({
            "Mounts": h.mounts, "VolumesFrom": h.volumes_from,
            "Devices": h.devices, "DeviceCgroupRules": h.device_cgroup_rules,
            "ShmSize": h.shm_size.unwrap_or(crate::record::DEFAULT_SHM_SIZE),
            "Sysctls": h.sysctls, "GroupAdd": h.group_add,
            "PidMode": h.pid_mode, "IpcMode": if h.ipc_mode.is_empty() { "private" } else { h.ipc_mode.as_str() },
            "UTSMode": h.uts_mode, "UsernsMode": h.userns_mode,
            "DnsSearch": r.network.dns_search, "DnsOptions": r.network.dns_options,
        });
        if let (Some(host), Value::Object(extra)) = (out["HostConfig"].as_object_mut(), extra) {
            host.extend(extra);
            host.extend(crate::resources::inspect(h));
        }
        let host = &mut out["HostConfig"];
        host["Links"] = json!(engine.link_names(r));
        host["Annotations"] = json!(h.annotations);
        host["CgroupParent"] = json!(h.cgroup_parent);
        host["CgroupnsMode"] = json!(if h.cgroupns_host { "host" } else { "private" });
        host["CpusetMems"] = json!(h.cpuset_mems.clone().unwrap_or_default());
        host["MemorySwappiness"] = json!(h.memory_swappiness);
        out
    }

    /// `NetworkSettings` for `inspect`.
    pub fn network_settings(&self, id: &str) -> Value {
        let engine = self;
        let endpoints = engine.networks.endpoints_of(id).unwrap_or_default();
        let networks: BTreeMap<String, Value> = endpoints
        .iter()
        .map(|e| {
            let network = engine.networks.inspect(&e.network).ok().map(|(n, _)| n);
            let gateway = network.as_ref().map(|n| n.pool.gateway.to_string()).unwrap_or_default();
            let gateway6 = network.and_then(|n| n.pool6).map(|p| p.gateway.to_string()).unwrap_or_default();
            let ip6 = e.ip6.map(|a| a.to_string()).unwrap_or_default();
            (
                e.network.clone(),
                json!({ "IPAddress": e.ip.to_string(), "Gateway": gateway, "GlobalIPv6Address": ip6, "IPv6Gateway": gateway6, "Aliases": e.aliases }),
            )
        })
        .collect();
        // Every binding of a port, as Docker's nat.PortMap: `-p 8080:80 -p 9090:80` is two.
        let mut ports: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for p in endpoints.iter().flat_map(|e| &e.ports) {
            let bindings = ports.entry(format!("{}/{}", p.container_port, p.protocol)).or_default();
            for a in p.host_addresses() {
                bindings.push(json!({ "HostIp": a.ip().to_string(), "HostPort": a.port().to_string() }));
            }
        }
        json!({
            "SandboxKey": engine.netns_path(id),
            "IPAddress": endpoints.first().map(|e| e.ip.to_string()).unwrap_or_default(),
            "Networks": networks,
            "Ports": ports,
        })
    }
}
