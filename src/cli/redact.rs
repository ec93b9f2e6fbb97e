//! `fleettop redact`: a copy of a recording that can leave the company (see
//! [`crate::evidence::anonymise`]).

use std::io::Read;
use std::path::Path;

use crate::evidence::anonymise::{Anonymiser, Rules};
use crate::record::{Existing, RecordWriter, Recording, RecordingHeader};
use crate::state::FleetState;

/// Observations per written batch (a keyframe can follow each).
const BATCH: usize = 1_000;

/// What the command line asked for.
pub struct RedactArgs<'a> {
    /// The new recording (never an existing file).
    pub out: &'a Path,
    /// What stays.
    pub rules: Rules,
    /// A file whose contents key the pseudonyms (the same file gives the same pseudonyms in
    /// several recordings); default: a random key, forgotten at exit.
    pub key_file: Option<&'a Path>,
}

/// Writes the anonymised copy of `rec` (called `name`; its warnings were said when it was
/// opened) and says what it did.
pub fn run(rec: &Recording, name: &str, args: &RedactArgs) -> anyhow::Result<()> {
    let key = match args.key_file {
        Some(path) => {
            let (mut file, _) = crate::files::open_regular(path)
                .map_err(|e| anyhow::anyhow!("--key-file {}: {e}", path.display()))?;
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes)?;
            anyhow::ensure!(bytes.len() >= 16, "--key-file {}: fewer than 16 bytes", path.display());
            *blake3::hash(&bytes).as_bytes()
        }
        None => random_key()?,
    };
    let mut anon = Anonymiser::new(key, args.rules);
    let header = rec.header();
    let clusters = anon.clusters(&header.clusters);
    let new_header = RecordingHeader::new(header.started_at, clusters.clone(), "redacted");
    let mut writer = RecordWriter::create(args.out, new_header, Existing::Refuse)?;
    let mut state = FleetState::with_clusters(header.started_at, &clusters);
    for chunk in rec.observations().chunks(BATCH) {
        let batch: Vec<_> = chunk.iter().map(|o| anon.observation(o)).collect();
        state.apply_all(&batch);
        writer.write_batch(&batch, &state)?;
    }
    let written = writer.observations_written();
    writer.finish()?;
    let kept = match (args.rules.keep_messages, args.rules.keep_clusters) {
        (false, false) => "names pseudonymised, messages removed",
        (true, false) => "names pseudonymised, messages kept (secrets redacted)",
        (false, true) => "names but clusters pseudonymised, messages removed",
        (true, true) => "names but clusters pseudonymised, messages kept (secrets redacted)",
    };
    say!("fleettop: wrote {}: {written} observations, {kept}", args.out.display());
    if !rec.warnings().is_empty() {
        say!("fleettop: the damaged stretches of {name} are not in the copy (see above)");
    }
    Ok(())
}

/// 32 bytes from the kernel's random source.
fn random_key() -> anyhow::Result<[u8; 32]> {
    let mut key = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut key))
        .map_err(|e| anyhow::anyhow!("cannot read /dev/urandom for the pseudonym key: {e}"))?;
    Ok(key)
}
