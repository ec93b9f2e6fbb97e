//! `fleettop snapshot`: the state at one moment of a recording or of the live fleet, as JSON or
//! a short summary.

use std::io::Write;

/// Prints a state as JSON, or as a short summary.
pub fn print_state(state: &crate::state::FleetState, json: bool) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    if json {
        // JSON stays exact: controls are written as JSON escapes (`crate::sanitise::JsonFormatter`).
        crate::sanitise::write_json_pretty(&mut stdout, &state.snapshot())?;
        writeln!(stdout)?;
    } else {
        // Cluster names are outside text (kubeconfig contexts): the summary passes the
        // terminal sanitiser.
        let mut out = Vec::new();
        writeln!(out, "fleet at {} ({} observations)", state.now(), state.applied())?;
        for c in state.clusters().values() {
            writeln!(out, "  {:<20} {}", c.id, c.health().label())?;
        }
        writeln!(
            out,
            "denials {} · gpu queues {} · workloads {} · pending gpu pods {} · gpu nodes {} · pipelines {} · exceptions {}",
            state.denials().len(),
            state.gpu_queues().len(),
            state.gpu_workloads().len(),
            state.pending_gpu_pods().len(),
            state.gpu_nodes().len(),
            state.pipelines().len(),
            state.exceptions().len()
        )?;
        writeln!(out, "(--json prints every record)")?;
        stdout.write_all(crate::sanitise::text(&String::from_utf8_lossy(&out)).as_bytes())?;
    }
    Ok(())
}
