//! Docker parity: ns_resources.
