//! The `taskchat` binary: parse the command line and hand over to [`taskchat::cli`].

fn main() -> std::process::ExitCode {
    taskchat::cli::main()
}
