//! The Docker Engine API (`lindocker system service`), driven by real clients: the
//! docker CLI, docker-compose and the Python SDK, and by hand-written requests for the
//! bad ones. One test binary; each module is one area.

mod build;
mod clients;
mod containers;
mod images;
mod networks_volumes;
mod requests;
