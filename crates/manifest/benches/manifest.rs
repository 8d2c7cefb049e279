//! Parsing + validating the billing-normalizer manifest (target < 1 ms) and its digest (target < 100 µs),
//! each beside a baseline measured in the same run: plain `serde_json` parsing of the same manifest, and a
//! bare SHA-256 over as many bytes as the canonical JSON has.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use manifest::Format;
use sha2::{Digest as _, Sha256};

const KINDS: &[&str] = &[
    "llm",
    "tool",
    "transform",
    "memory_search",
    "memory_write",
    "approval",
    "a2a",
];

fn benches(c: &mut Criterion) {
    let yaml = std::fs::read("../../examples/finops/billing-normalizer.yaml").unwrap_or_default();
    let manifest = match manifest::parse(&yaml, Format::Yaml, KINDS) {
        Ok(manifest) => manifest,
        Err(error) => panic!("the example manifest is valid: {error}"),
    };
    let json = serde_json::to_vec(&manifest).unwrap_or_default();
    let canonical_len = serde_json_canonicalizer::to_vec(&manifest)
        .map(|bytes| bytes.len())
        .unwrap_or_default();

    let mut group = c.benchmark_group("manifest");
    group.bench_function("parse_validate_yaml", |b| {
        b.iter(|| manifest::parse(black_box(&yaml), Format::Yaml, KINDS).is_ok());
    });
    group.bench_function("parse_validate_json", |b| {
        b.iter(|| manifest::parse(black_box(&json), Format::Json, KINDS).is_ok());
    });
    group.bench_function("baseline_serde_json_parse", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(&json)).is_ok());
    });
    group.bench_function("digest", |b| b.iter(|| black_box(&manifest).digest()));
    let bytes = vec![b'x'; canonical_len];
    group.bench_function("baseline_sha256_same_bytes", |b| {
        b.iter(|| Sha256::digest(black_box(&bytes)))
    });
    group.finish();
}

criterion_group!(manifest_benches, benches);
criterion_main!(manifest_benches);
