//! `saga-bench`: the checkout saga across the real service processes —
//! sagas per second at capacity (closed loop), saga latency at a fraction of
//! it (open loop), the commit limit of the same machine, transactions per
//! saga and CPU per process. See `scripts/bench saga` and
//! `ecommerce_bench::saga`.

fn main() -> std::process::ExitCode {
    ecommerce_bench::saga::main()
}
