//! What the fuzz targets share: the panic policy, the signing identity, and the upload sniffer's
//! source.

use std::cell::RefCell;
use std::collections::HashSet;
use std::panic::{self, PanicHookInfo};
use std::sync::{Mutex, Once, OnceLock};

use ouvrage_pdfsign::SigningIdentity;

/// The upload content sniffer, compiled from the app's own file: it needs nothing of the app but
/// `infer`, and building the whole app with coverage instrumentation would take far longer.
#[path = "../../crates/ouvrage/src/features/files/kind.rs"]
pub mod kind;

thread_local! {
    static LAST_PANIC: RefCell<Option<(String, String)>> = const { RefCell::new(None) };
}

/// Runs one input through the code under test.
///
/// libfuzzer-sys turns every panic into an abort, even one the code catches on purpose:
/// ouvrage-pdfsign wraps lopdf in `catch_unwind` so that a lopdf panic is a refusal ("PDF
/// illisible"), which is its contract. Here such a contained panic is printed once per source
/// location (`contained panic at …`) and the run goes on; a panic that escapes `call` is the bug
/// the targets look for, and aborts, which libFuzzer records as a crash with its input.
pub fn run(call: impl FnOnce()) {
    static HOOK: Once = Once::new();
    static REPORTED: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    HOOK.call_once(|| panic::set_hook(Box::new(record_panic)));
    let outcome = panic::catch_unwind(panic::AssertUnwindSafe(call));
    let Some((location, message)) = LAST_PANIC.with(|last| last.borrow_mut().take()) else { return };
    if outcome.is_err() {
        eprintln!("panic escaped the code under test at {location}: {message}");
        std::process::abort();
    }
    let first_time = REPORTED.lock().map(|mut seen| seen.get_or_insert_with(HashSet::new).insert(location.clone()));
    if first_time.unwrap_or(true) {
        eprintln!("contained panic at {location}: {message}");
    }
}

/// Keeps where and why the last panic happened, for [`run`] to report.
fn record_panic(info: &PanicHookInfo<'_>) {
    let location = info.location().map(ToString::to_string).unwrap_or_default();
    let payload = info.payload();
    let message = payload
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    LAST_PANIC.with(|last| *last.borrow_mut() = Some((location, message)));
}

/// The firm's certificate for sealing, made once per process (key generation is slow).
pub fn identity() -> &'static SigningIdentity {
    static IDENTITY: OnceLock<SigningIdentity> = OnceLock::new();
    IDENTITY.get_or_init(|| SigningIdentity::generate("Sceau fuzz", "Ouvrage").expect("generate identity"))
}
