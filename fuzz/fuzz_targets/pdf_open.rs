//! The PDF check run on every uploaded document (`page_count`): a page count or a refusal, never
//! a panic that escapes it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ouvrage_pdfsign::page_count;

fuzz_target!(|data: &[u8]| {
    ouvrage_fuzz::run(|| {
        if let Ok(pages) = page_count(data) {
            assert!(pages > 0);
        }
    });
});
