//! The `medharmony` command-line interface (see `medharmony --help` and the README).

fn main() -> std::process::ExitCode {
    // Behave like other command-line tools when the reader of our output goes
    // away (`medharmony busy | head`): end quietly instead of panicking.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("MEDHARMONY_LOG").unwrap_or_else(|_| "warn".into()))
        .init();
    medharmony::cli::main_with(std::env::args_os())
}
