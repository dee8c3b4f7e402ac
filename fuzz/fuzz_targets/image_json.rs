//! What a registry or an archive sends as an image index, manifest or config: parsed as
//! the store and the puller parse it, never a panic; what parses prints back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oci_spec::image::{ImageConfiguration, ImageIndex, ImageManifest};

fn round_trip<T>(data: &[u8])
where
    T: serde::de::DeserializeOwned + serde::Serialize + PartialEq + std::fmt::Debug,
{
    if let Ok(parsed) = serde_json::from_slice::<T>(data) {
        let text = serde_json::to_vec(&parsed).expect("serializes");
        let again: T = serde_json::from_slice(&text).expect("parses back");
        assert_eq!(again, parsed);
    }
}

fuzz_target!(|data: &[u8]| {
    round_trip::<ImageManifest>(data);
    round_trip::<ImageIndex>(data);
    round_trip::<ImageConfiguration>(data);
});
