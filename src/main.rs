// mimalloc instead of the system allocator: no heap growth and trimming per request (glibc's
// brk and page-fault churn around large header arrays), fewer instructions per allocation.
// Declared here, not in the library: tests install their own counting allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    consentry::cli::main()
}
