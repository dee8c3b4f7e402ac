//! Faults as tests: crashes, kills and full disks at the worst moment, and proof that
//! afterwards nothing is stranded (names, mounts, cgroups, netns, veths, nft rules,
//! processes) and nothing is lost (records, images).

mod connect_race;
mod gc_race;
mod interrupted;
mod log_disk_full;
mod logs_tail;
mod names;
mod slow_stdin;
mod two_roots;
