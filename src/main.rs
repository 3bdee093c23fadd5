//! The `osiris` command: parse arguments, run the command, map the outcome to an exit code.

#[allow(clippy::disallowed_macros)]
mod cli;

fn main() {
    osiris::runtime::allocator::bound_heap_retention();
    std::process::exit(cli::main());
}
