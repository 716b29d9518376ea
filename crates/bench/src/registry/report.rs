//! The registry benchmark's table and JSON line.

use serde_json::{Value, json};

use super::args::RegistryArgs;
use super::decode::{Corpus, Throughput};
use super::load::{AtLoad, Capacity, POSTGRES_GROUP, PhaseCpu, REGISTRY_GROUP, Rpc};
use crate::measure::{ms, round1, round3};

/// GetSchema p99 at the open-loop load, in milliseconds.
pub const TARGET_GET_SCHEMA_P99_MS: f64 = 2.0;
/// Dynamic decodes per typed decode.
pub const TARGET_DYNAMIC_RATIO: f64 = 0.25;

/// One RPC's two phases.
#[derive(Clone, Debug)]
pub struct RpcResult {
    pub rpc: Rpc,
    pub capacity: Capacity,
    /// At the run's load fraction.
    pub at_load: AtLoad,
    /// At a low load (GetSchema only), when lower than the run's.
    pub low_load: Option<AtLoad>,
}

impl RpcResult {
    fn to_json(&self) -> Value {
        json!({
            "rpc": self.rpc.name(),
            "capacity": self.capacity.to_json(),
            "open_loop": self.at_load.to_json(),
            "open_loop_low_load": self.low_load.as_ref().map(AtLoad::to_json),
        })
    }
}

#[derive(Clone, Debug)]
pub struct DecodeResult {
    pub corpus_json: Value,
    pub mean_bytes: f64,
    pub envelopes: usize,
    pub typed: Throughput,
    pub dynamic: Throughput,
    pub dynamic_json: Throughput,
}

impl DecodeResult {
    pub fn new(
        corpus: &Corpus,
        typed: Throughput,
        dynamic: Throughput,
        dynamic_json: Throughput,
    ) -> Self {
        Self {
            corpus_json: corpus.to_json(),
            mean_bytes: corpus.mean_bytes(),
            envelopes: corpus.bodies.len(),
            typed,
            dynamic,
            dynamic_json,
        }
    }

    pub fn dynamic_ratio(&self) -> f64 {
        ratio(self.dynamic.per_second(), self.typed.per_second())
    }

    pub fn dynamic_json_ratio(&self) -> f64 {
        ratio(self.dynamic_json.per_second(), self.typed.per_second())
    }
}

/// Everything one run measured.
#[derive(Debug)]
pub struct Report {
    pub args: RegistryArgs,
    pub schema: String,
    pub schemas_registered: usize,
    /// The first registration of every schema, one after the other.
    pub first_registration_ms: f64,
    pub register: RpcResult,
    pub get: RpcResult,
    pub decode: DecodeResult,
    /// Cores other processes used just before the run.
    pub background_cores: f64,
    /// `SCHEMA_REGISTRY_*` knobs passed through from the environment.
    pub knobs: Vec<(String, String)>,
}

fn ratio(value: f64, baseline: f64) -> f64 {
    if baseline > 0.0 {
        value / baseline
    } else {
        0.0
    }
}

fn cores() -> usize {
    crate::measure::machine_cores()
}

fn p99_ms(at_load: &AtLoad) -> f64 {
    at_load.latency.p99_us as f64 / 1000.0
}

/// Whether an open loop of GetSchema met the p99 target, without a failure.
fn get_schema_p99_met(at_load: &AtLoad) -> bool {
    at_load.latency.count > 0
        && at_load.errors.count == 0
        && p99_ms(at_load) <= TARGET_GET_SCHEMA_P99_MS
}

impl Report {
    fn get_schema_p99_met(&self) -> bool {
        get_schema_p99_met(&self.get.at_load)
    }

    fn dynamic_ratio_met(&self) -> bool {
        self.decode.dynamic_ratio() >= TARGET_DYNAMIC_RATIO
    }

    pub fn to_json(&self) -> Value {
        let get_met = self.get_schema_p99_met();
        let ratio_met = self.dynamic_ratio_met();
        let knobs: serde_json::Map<String, Value> = self
            .knobs
            .iter()
            .map(|(name, value)| (name.clone(), json!(value)))
            .collect();
        json!({
            "bench": "registry",
            "run_id": self.args.run_id,
            "quick": self.args.quick,
            "machine_cores": cores(),
            "clients": self.args.clients,
            "channels": self.args.channels.name(),
            "cpus": self.args.cpus.name(),
            "duration_s": round3(self.args.duration.as_secs_f64()),
            "warmup_s": round3(self.args.warmup.as_secs_f64()),
            "load_fraction": self.args.load_fraction,
            "background_cpu_cores_before_run": round3(self.background_cores),
            "registry_knobs": knobs,
            "schemas_registered": self.schemas_registered,
            "first_registration_ms": round3(self.first_registration_ms),
            "register_existing_calls_per_s": round1(self.register.capacity.per_second),
            "register_existing_p50_ms": ms(self.register.at_load.latency.p50_us),
            "register_existing_p99_ms": ms(self.register.at_load.latency.p99_us),
            "get_schema_calls_per_s": round1(self.get.capacity.per_second),
            "get_schema_p50_ms": ms(self.get.at_load.latency.p50_us),
            "get_schema_p99_ms": ms(self.get.at_load.latency.p99_us),
            "get_schema_low_load": self.get.low_load.as_ref().map(|low| json!({
                "offered_per_s": round1(low.offered_per_second),
                "p50_ms": ms(low.latency.p50_us),
                "p99_ms": ms(low.latency.p99_us),
                "p99_le_2ms": get_schema_p99_met(low),
            })),
            "typed_decodes_per_s": round1(self.decode.typed.per_second()),
            "dynamic_decodes_per_s": round1(self.decode.dynamic.per_second()),
            "dynamic_json_decodes_per_s": round1(self.decode.dynamic_json.per_second()),
            "dynamic_to_typed_ratio": round3(self.decode.dynamic_ratio()),
            "dynamic_json_to_typed_ratio": round3(self.decode.dynamic_json_ratio()),
            "targets_met": {
                "get_schema_p99_le_2ms": get_met,
                "dynamic_decode_ge_0_25_typed": ratio_met,
                "all": get_met && ratio_met,
            },
            "phases": {
                "register_existing": self.register.to_json(),
                "get_schema": self.get.to_json(),
                "decode": {
                    "corpus": self.decode.corpus_json,
                    "typed": self.decode.typed.to_json(),
                    "dynamic": self.decode.dynamic.to_json(),
                    "dynamic_json": self.decode.dynamic_json.to_json(),
                },
            },
            "method": method(),
            "schema": self.schema,
        })
    }

    pub fn print(&self) {
        let json = self.to_json();
        let rule = || println!("  {}", "-".repeat(100));
        println!();
        println!(
            "registry-bench  run {}  ({} cores {}, {} clients on {} channels, {:.1} s phases after {:.1} s warmup{})",
            self.args.run_id,
            cores(),
            match self.args.cpus {
                super::args::Cpus::Split => "split: registry on the last, generator on the rest",
                super::args::Cpus::Shared => "shared by registry and generator",
            },
            self.args.clients,
            self.args.channels.name(),
            self.args.duration.as_secs_f64(),
            self.args.warmup.as_secs_f64(),
            if self.args.quick { ", quick" } else { "" }
        );
        println!();
        println!("  {:<36} {:>14}  note", "measurement", "value");
        rule();
        line(
            "first registration of all schemas",
            format!("{:.1} ms", self.first_registration_ms),
            format!(
                "{} event types, one after the other ({:.2} ms each)",
                self.schemas_registered,
                self.first_registration_ms / self.schemas_registered.max(1) as f64
            ),
        );
        for result in [&self.register, &self.get] {
            rule();
            print_rpc(result, self.args.load_fraction);
        }
        rule();
        let decode = &self.decode;
        line(
            "typed decodes/s",
            format!("{:.0}", decode.typed.per_second()),
            format!(
                "decode_envelope, one thread; {:.0} ns each; {} envelopes, 6 saga types, mean {:.0} B",
                decode.typed.nanos_per_decode(),
                decode.envelopes,
                decode.mean_bytes
            ),
        );
        line(
            "dynamic decodes/s",
            format!("{:.0}", decode.dynamic.per_second()),
            format!(
                "decode_dynamic, cache warmed; {:.0} ns each; ratio {:.3} to typed (target >= {TARGET_DYNAMIC_RATIO})",
                decode.dynamic.nanos_per_decode(),
                decode.dynamic_ratio()
            ),
        );
        line(
            "dynamic + to_json decodes/s",
            format!("{:.0}", decode.dynamic_json.per_second()),
            format!(
                "{:.0} ns each; ratio {:.3} to typed",
                decode.dynamic_json.nanos_per_decode(),
                decode.dynamic_json_ratio()
            ),
        );
        println!();
        println!("  targets");
        for (met, description) in [
            (
                self.get_schema_p99_met(),
                format!(
                    "GetSchema p99 <= {TARGET_GET_SCHEMA_P99_MS} ms at {} x capacity",
                    self.args.load_fraction
                ),
            ),
            (
                self.dynamic_ratio_met(),
                format!("dynamic decode >= {TARGET_DYNAMIC_RATIO} x typed"),
            ),
            (
                self.get_schema_p99_met() && self.dynamic_ratio_met(),
                "all".to_owned(),
            ),
        ] {
            println!(
                "    {description:<44} {}",
                if met { "met" } else { "MISSED" }
            );
        }
        if let Some(low_load) = &self.get.low_load {
            println!(
                "    {:<44} {}",
                format!(
                    "(GetSchema p99 <= {TARGET_GET_SCHEMA_P99_MS} ms at {:.2} x capacity)",
                    low_load.offered_per_second / self.get.capacity.per_second
                ),
                if get_schema_p99_met(low_load) {
                    "met"
                } else {
                    "missed"
                }
            );
        }
        if self.background_cores > 0.25 {
            println!(
                "  note: other processes used {:.2} cores just before the run; figures are noisy",
                self.background_cores
            );
        }
        println!();
        println!("{json}");
    }
}

fn line(name: &str, value: String, note: String) {
    println!("  {name:<36} {value:>14}  {note}");
}

fn cpu_note(cpu: &PhaseCpu) -> String {
    format!(
        "cores: registry {:.2} ({:.3} ms/call), its postgres {:.2} ({:.3} ms/call), bench {:.2}, other {:.2}",
        cpu.registry_cores,
        cpu.ms_per_call(REGISTRY_GROUP),
        cpu.postgres_cores,
        cpu.ms_per_call(POSTGRES_GROUP),
        cpu.bench_cores,
        cpu.other_cores
    )
}

fn print_rpc(result: &RpcResult, load_fraction: f64) {
    let capacity = &result.capacity;
    line(
        &format!("{} calls/s", result.rpc.name()),
        format!("{:.0}", capacity.per_second),
        format!(
            "capacity: {} callers, closed loop; call p50 {:.2} ms p99 {:.2} ms{}",
            capacity.clients,
            capacity.latency.p50_us as f64 / 1000.0,
            capacity.latency.p99_us as f64 / 1000.0,
            errors_note(capacity.errors.count)
        ),
    );
    line("", String::new(), cpu_note(&capacity.cpu));
    print_open_loop(&result.at_load, load_fraction);
    if let Some(low_load) = &result.low_load {
        print_open_loop(low_load, low_load.offered_per_second / capacity.per_second);
    }
}

fn print_open_loop(at_load: &AtLoad, load_fraction: f64) {
    line(
        &format!("  at {load_fraction:.2} x capacity, p50 / p99"),
        format!(
            "{:.2} / {:.2} ms",
            at_load.latency.p50_us as f64 / 1000.0,
            at_load.latency.p99_us as f64 / 1000.0
        ),
        format!(
            "open loop {:.0}/s offered, {:.0}/s answered{}; p90 {:.2}, max {:.2} ms ({} calls){}",
            at_load.offered_per_second,
            at_load.achieved_per_second,
            if at_load.overloaded() {
                " OVERLOADED"
            } else {
                ""
            },
            at_load.latency.p90_us as f64 / 1000.0,
            at_load.latency.max_us as f64 / 1000.0,
            at_load.latency.count,
            errors_note(at_load.errors.count)
        ),
    );
    line(
        "",
        String::new(),
        format!(
            "sent -> answered p99 {:.2} ms; dispatch lag p99 {:.2} ms",
            at_load.service_time.p99_us as f64 / 1000.0,
            at_load.schedule_lag.p99_us as f64 / 1000.0
        ),
    );
    line("", String::new(), cpu_note(&at_load.cpu));
}

fn errors_note(errors: u64) -> String {
    if errors == 0 {
        String::new()
    } else {
        format!("; {errors} FAILED")
    }
}

/// How each figure is measured, carried in the JSON so a result explains itself.
fn method() -> Value {
    json!({
        "registry": "the schema-registry release binary as a process on a fresh schema (migrated by it) and a private topology prefix, SCHEMA_REGISTRY_URL=off; calls without a token (reads and RegisterSchema are open)",
        "schemas": "EventSchema::compiled of every ecommerce_events::EVENT_TYPES entry (the descriptors each producer registers at start-up), registered once; first_registration_ms is that loop, one call after the other",
        "capacity": "N callers in a closed loop for warmup + duration, caller k making calls k, k+N, ... over the schemas round-robin; calls/s = calls answered OK inside the measured window / its length; channels: per-client = one tonic channel (HTTP/2 connection) per caller, shared = one for all",
        "open_loop": "call k due at start + k / (load_fraction x capacity) and sent then whatever earlier calls did (a dispatcher thread sleeping with nanosleep spawns each call as a task), on caller k mod N's channel; latency = answer - due for calls due in the window (queueing and dispatch lag included), service_time = answer - sent, schedule_lag = sent - due",
        "register_existing": "RegisterSchema with the exact request that registered the schema: idempotent, must answer the same id (checked)",
        "get_schema": "GetSchema by id over the registered ids (answer's id checked)",
        "decode": "one blocking thread, round-robin over the corpus (6 saga event types x 32 checkouts, each envelope stamped with its registry id), clock read every 64 decodes, results through black_box; typed = decode_envelope; dynamic = SchemaCache::decode_dynamic over a RegistrySchemaSource cache warmed with every id (no fetch while timed); dynamic_json = decode_dynamic + DynamicEvent::to_json; both paths checked to agree first",
        "targets": "GetSchema p99 of the open loop at load_fraction x capacity <= 2 ms (and no failed call); dynamic decodes/s >= 0.25 x typed; get_schema_low_load is the same open loop at 0.1 x capacity, informational (not in all)",
        "cpu": "cores_used per process group from /proc over the measured window (utime+stime incl. reaped children); schema-registry = the registry process, postgres = backends tagged with the run's schema (the registry's pool, plus the bench's idle admin pool), bench = this process (the load generator), other = the rest of the machine",
    })
}
