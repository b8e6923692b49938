//! The `taskchat` binary: parse the command line and hand over to [`taskchat::cli`].

// glibc's malloc took about a fifth of the server's CPU under chat load (much memory is freed on another thread
// than the one that allocated it). Built without transparent huge pages: mimalloc asks for them on the regions
// it commits up front, and with them each open chat stream cost ≈ 66 KB resident instead of ≈ 44 (BENCHMARKS.md).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    taskchat::cli::main()
}
