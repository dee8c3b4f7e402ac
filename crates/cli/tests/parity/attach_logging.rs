//! Docker parity: attach_logging.
