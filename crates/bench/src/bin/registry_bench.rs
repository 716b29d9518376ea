//! `registry-bench`: the schema registry as a process — RegisterSchema of
//! registered schemas and GetSchema by id at capacity (closed loop) and at
//! a fraction of it (open-loop latency), and dynamic against typed decoding
//! of the checkout saga's events. See `scripts/bench registry` and
//! `ecommerce_bench::registry`.

fn main() -> std::process::ExitCode {
    ecommerce_bench::registry::main()
}
