//! End-to-end throughput: ingest + features + scoring on generated logs of
//! about 1 M and 10 M events, from Parquet and from CSV, reported as events
//! per second. Generation is setup and untimed. Sizes can be chosen with
//! `LEAKWATCH_BENCH_EVENTS=1000000,10000000`.

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use leakwatch::generate::{self, GenerateOptions, OutputFormat};
use leakwatch::{features, pipeline, scoring, Settings};

// The allocator of the `leakwatch` binary, so that the figures are its.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const DAYS: u32 = 30;
/// Roughly the events one generated employee produces per day.
const EVENTS_PER_EMPLOYEE_DAY: usize = 39;

fn sizes() -> Vec<usize> {
    std::env::var("LEAKWATCH_BENCH_EVENTS")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000_000, 10_000_000])
}

fn run(logs: &Path, settings: &Settings) -> usize {
    let ingested = pipeline::ingest(&[logs.to_str().unwrap().to_string()], &[], settings).unwrap();
    let table = features::table::actor_days(&ingested.tables).unwrap();
    let verdicts = scoring::verdicts(&table, settings);
    assert_eq!(verdicts.len(), table.rows.len());
    ingested.counts.events
}

fn bench(c: &mut Criterion) {
    let settings = Settings::default();
    let root = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("analyze");
    // Whole runs take seconds: ten flat samples, one run each.
    group.sample_size(10).sampling_mode(SamplingMode::Flat);
    for target in sizes() {
        for (format, name) in [
            (OutputFormat::Parquet, "parquet"),
            (OutputFormat::Csv, "csv"),
        ] {
            let dir = root.path().join(format!("{target}-{name}"));
            let truth = generate::write(
                &dir,
                &GenerateOptions {
                    employees: (target / DAYS as usize / EVENTS_PER_EMPLOYEE_DAY).max(30),
                    days: DAYS,
                    seed: 1,
                    scenarios: vec![],
                    format,
                    start: chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
                    intensity: 1.0,
                },
            )
            .unwrap();
            group.throughput(Throughput::Elements(truth.events as u64));
            let logs = dir.join("logs");
            group.bench_function(format!("{name}/{}k_events", truth.events / 1000), |b| {
                b.iter(|| run(&logs, &settings))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
