//! Docker parity: templates.
