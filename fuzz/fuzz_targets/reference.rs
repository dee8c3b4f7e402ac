//! Image references: any text parses or is refused; what parses prints back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lindocker_image::reference;

fuzz_target!(|text: &str| {
    if let Ok(r) = reference::parse(text) {
        let whole = r.whole();
        if whole.len() <= 255 {
            let again = reference::parse(&whole).expect("a parsed reference parses back");
            assert_eq!(again.whole(), whole);
        }
        let _ = reference::familiar(&whole);
    }
});
