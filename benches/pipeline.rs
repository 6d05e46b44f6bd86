//! End-to-end throughput: ingest + features + scoring on generated logs of
//! about 1 M and 10 M events, from Parquet and from CSV, reported as events
//! per second, in two shapes of organisation:
//!
//! - `sparse`: about 39 events per agent-day (the generator's default
//!   workload), so many actor-days per event;
//! - `dense`: about 255 events per agent-day (`--intensity 6.5`), the
//!   density of the year (about 100 M events for 1,000 agents).
//!
//! Generation is setup and untimed. Sizes can be chosen with
//! `LEAKWATCH_BENCH_EVENTS=1000000,10000000`, shapes with
//! `LEAKWATCH_BENCH_SHAPES=sparse,dense`.

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use leakwatch::generate::{self, GenerateOptions, OutputFormat};
use leakwatch::{features, pipeline, scoring, Settings};

// The allocator of the `leakwatch` binary, so that the figures are its.
leakwatch::global_allocator!();

const DAYS: u32 = 30;

/// A shape of organisation: its workload multiplier and roughly the events
/// one generated employee then produces per calendar day.
struct Shape {
    name: &'static str,
    intensity: f64,
    events_per_employee_day: usize,
}

const SHAPES: [Shape; 2] = [
    Shape {
        name: "sparse",
        intensity: 1.0,
        events_per_employee_day: 39,
    },
    Shape {
        name: "dense",
        intensity: 6.5,
        events_per_employee_day: 255,
    },
];

/// The shapes `LEAKWATCH_BENCH_SHAPES` names (all without it); a name that
/// is not a shape stops the benchmark rather than measuring nothing.
fn shapes() -> Vec<&'static Shape> {
    let Ok(wanted) = std::env::var("LEAKWATCH_BENCH_SHAPES") else {
        return SHAPES.iter().collect();
    };
    wanted
        .split(',')
        .map(|name| {
            let name = name.trim();
            SHAPES.iter().find(|s| s.name == name).unwrap_or_else(|| {
                panic!("LEAKWATCH_BENCH_SHAPES: no shape {name:?} (sparse, dense)")
            })
        })
        .collect()
}

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
    for shape in shapes() {
        for target in sizes() {
            for (format, name) in [
                (OutputFormat::Parquet, "parquet"),
                (OutputFormat::Csv, "csv"),
            ] {
                let dir = root.path().join(format!("{}-{target}-{name}", shape.name));
                let truth = generate::write(
                    &dir,
                    &GenerateOptions {
                        employees: (target / DAYS as usize / shape.events_per_employee_day).max(30),
                        days: DAYS,
                        seed: 1,
                        scenarios: vec![],
                        format,
                        start: chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap(),
                        intensity: shape.intensity,
                    },
                )
                .unwrap();
                group.throughput(Throughput::Elements(truth.events as u64));
                let logs = dir.join("logs");
                let id = format!("{}/{name}/{}k_events", shape.name, truth.events / 1000);
                group.bench_function(id, |b| b.iter(|| run(&logs, &settings)));
            }
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
