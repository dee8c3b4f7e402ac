//! Docker parity: events.
