//! The `config.json` that `lindocker-runtime spec` writes: runc's template, so bundles
//! made for runc and for us start out the same.

/// The default spec, as JSON.
pub const DEFAULT_SPEC: &str = include_str!("default_spec.json");

#[cfg(test)]
mod tests {
    #[test]
    fn default_spec_parses() {
        let spec = crate::spec::parse(std::path::Path::new("default"), super::DEFAULT_SPEC.as_bytes()).unwrap();
        assert_eq!(spec.hostname().as_deref(), Some("lindocker"));
    }
}
