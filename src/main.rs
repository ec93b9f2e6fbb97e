//! The `fleettop` binary: see [`fleettop::cli`].

fn main() -> std::process::ExitCode {
    fleettop::cli::main()
}
