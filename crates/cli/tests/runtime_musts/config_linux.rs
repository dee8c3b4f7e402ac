//! MUSTs of `config-linux.md`.
