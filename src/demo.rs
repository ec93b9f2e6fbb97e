//! The bundled demo: `snapshots/demo.fleetrec`, compiled into the binary so `--demo` needs
//! no files. Regenerate it with `fleettop simulate --out snapshots/demo.fleetrec`.

use crate::record::{RecordError, Recording};

/// The demo recording's bytes.
pub const DEMO_BYTES: &[u8] = include_bytes!("../snapshots/demo.fleetrec");

/// The demo recording, decoded.
pub fn recording() -> Result<Recording, RecordError> {
    Recording::from_bytes_named(DEMO_BYTES, "the bundled demo")
}
