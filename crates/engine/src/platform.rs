//! `--platform` for `run`/`create`: the image used must be of the platform asked for.
//! Images are pulled for this host's platform only; another platform is an error unless
//! an image of it is already in the store.

use lindocker_image::registry::Platform;

use crate::EngineError;
use crate::lifecycle::Engine;

/// The architecture as the OCI spells it (`x86_64` is `amd64`, `aarch64` is `arm64`).
fn normal_arch(arch: &str) -> &str {
    match arch {
        "x86_64" | "x86-64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// Parses `--platform` (`os/arch[/variant]`), architecture names normalised.
pub fn parse(text: &str) -> Result<Platform, EngineError> {
    let mut p = Platform::parse(text).map_err(|_| EngineError::BadOption {
        option: "--platform".into(),
        value: text.into(),
        reason: "expected a platform like linux/amd64".into(),
    })?;
    p.architecture = normal_arch(&p.architecture).to_owned();
    Ok(p)
}

/// Whether `wanted` is the platform this host runs.
pub fn is_host(wanted: &Platform) -> bool {
    let host = Platform::host();
    wanted.os == host.os && wanted.architecture == host.architecture
}

impl Engine {
    /// Checks that the stored image `name` is of platform `wanted` (its variant only if
    /// one was asked for).
    pub fn check_platform(&self, name: &str, wanted: &Platform) -> Result<(), EngineError> {
        let image = self.images.find(name)?;
        let config = self.images.config(&image)?;
        let os = config.os().to_string();
        let arch = config.architecture().to_string();
        let variant = config.variant().clone();
        let matches = os == wanted.os
            && normal_arch(&arch) == wanted.architecture
            && (wanted.variant.is_none() || variant == wanted.variant);
        if matches {
            return Ok(());
        }
        let actual = match variant {
            Some(v) => format!("{os}/{arch}/{v}"),
            None => format!("{os}/{arch}"),
        };
        Err(EngineError::Invalid(format!(
            "image with reference {name} was found but does not match the specified platform: wanted {wanted}, actual: {actual}"
        )))
    }
}
