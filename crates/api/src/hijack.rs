//! hijack
