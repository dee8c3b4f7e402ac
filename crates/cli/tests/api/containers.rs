//! Containers and exec through the API: the docker CLI's run, ps, logs, exec, attach,
//! stop, rm, inspect, cp.
