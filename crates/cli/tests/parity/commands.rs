//! Docker parity: commands.
