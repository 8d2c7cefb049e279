//! No input panics the parser or costs unbounded memory: random bytes, mutated manifests, truncations,
//! huge and deeply nested documents, alias bombs. The property tests run a bounded number of cases in CI
//! (`PROPTEST_CASES` raises it for a longer hunt).

use std::time::{Duration, Instant};

use manifest::{Format, limits};
use proptest::prelude::*;

use crate::{KINDS, example};

/// Parses in both formats; the parser must answer, whatever the answer.
fn survives(source: &[u8]) {
    for format in [Format::Yaml, Format::Json] {
        if let Err(error) = manifest::parse(source, format, KINDS) {
            assert!(!error.errors().is_empty(), "an error says what is wrong");
        }
    }
}

fn errors_of(source: &[u8], format: Format) -> Vec<String> {
    let started = Instant::now();
    let result = manifest::parse(source, format, KINDS);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "refused quickly, not after {:?}",
        started.elapsed()
    );
    result
        .map(|_| Vec::new())
        .unwrap_or_else(|error| error.errors().iter().map(ToString::to_string).collect())
}

/// Pieces that mean something to YAML, so mutations reach the parser's corners.
const SPICE: &[&str] = &[
    ":",
    "- ",
    "&a ",
    "*a",
    "[",
    "]",
    "{",
    "}",
    "\t",
    "!",
    "!!str ",
    "|",
    ">",
    "\"",
    "'",
    "#",
    "? ",
    "---\n",
    "...\n",
    "\n",
    "  ",
    "%YAML 1.2\n",
    "<<: *a\n",
    "\\u0000",
    "\u{FEFF}",
    "\r",
    "\0",
];

#[derive(Debug, Clone)]
enum Mutation {
    Truncate(usize),
    Flip(usize, u8),
    Insert(usize, usize),
    DropLine(usize),
    RepeatLine(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Flip(at, byte)),
        (any::<usize>(), 0..SPICE.len()).prop_map(|(at, spice)| Mutation::Insert(at, spice)),
        any::<usize>().prop_map(Mutation::DropLine),
        any::<usize>().prop_map(Mutation::RepeatLine),
    ]
}

fn mutate(mut source: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for mutation in mutations {
        if source.is_empty() {
            break;
        }
        match *mutation {
            Mutation::Truncate(at) => source.truncate(at % source.len()),
            Mutation::Flip(at, byte) => {
                let at = at % source.len();
                source[at] = byte;
            }
            Mutation::Insert(at, spice) => {
                let at = at % (source.len() + 1);
                source.splice(at..at, SPICE[spice].bytes());
            }
            Mutation::DropLine(line) | Mutation::RepeatLine(line) => {
                let mut lines: Vec<Vec<u8>> = source.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
                let at = line % lines.len();
                if matches!(mutation, Mutation::DropLine(_)) {
                    lines.remove(at);
                } else {
                    lines.insert(at, lines[at].clone());
                }
                source = lines.join(&b'\n');
            }
        }
    }
    source
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(source in proptest::collection::vec(any::<u8>(), 0..2048)) {
        survives(&source);
    }

    #[test]
    fn mutated_manifests_never_panic(
        which in 0..2_usize,
        mutations in proptest::collection::vec(mutation(), 1..6),
    ) {
        let name = ["billing-normalizer.yaml", "anomaly-detector.yaml"][which];
        survives(&mutate(example(name), &mutations));
    }
}

#[test]
fn every_truncation_of_a_manifest_is_handled() {
    let source = example("anomaly-detector.yaml");
    let text = String::from_utf8(source.clone()).unwrap();
    let mut cuts: Vec<usize> = text.match_indices('\n').map(|(at, _)| at).collect();
    cuts.extend(text.match_indices(':').map(|(at, _)| at + 1));
    for cut in cuts {
        survives(&source[..cut]);
    }
}

#[test]
fn a_50_megabyte_document_is_refused_before_it_is_read() {
    let huge = vec![b'a'; 50 * 1024 * 1024];
    let errors = errors_of(&huge, Format::Yaml);
    assert_eq!(
        errors,
        [format!(
            "the document is 52428800 bytes; the limit is {} bytes",
            limits::MAX_BYTES
        )]
    );
}

#[test]
fn deep_nesting_is_refused() {
    let brackets = limits::MAX_BYTES / 2;
    let deep = format!("{}{}", "[".repeat(brackets), "]".repeat(brackets));
    let yaml_errors = errors_of(deep.as_bytes(), Format::Yaml);
    assert!(
        yaml_errors[0].contains("recursion limit exceeded"),
        "the parser's own flow limit: {yaml_errors:?}"
    );
    let json_errors = errors_of(deep.as_bytes(), Format::Json);
    assert!(
        json_errors[0].contains("recursion limit exceeded"),
        "{json_errors:?}"
    );
    let moderate = format!("{}{}", "[".repeat(100), "]".repeat(100));
    assert_eq!(
        errors_of(moderate.as_bytes(), Format::Json),
        ["nesting is deeper than 64 levels"]
    );
    let indented: String = (0..200)
        .map(|depth| format!("{}k{depth}:\n", "  ".repeat(depth)))
        .collect();
    assert!(errors_of(indented.as_bytes(), Format::Yaml)[0].contains("nesting is deeper than 64 levels"));
}

#[test]
fn too_many_values_are_refused() {
    let many = format!("[{}]", vec!["1"; 200_000].join(","));
    assert!(many.len() < limits::MAX_BYTES);
    assert!(errors_of(many.as_bytes(), Format::Yaml)[0].contains("more than 100000 values"));
    assert_eq!(
        errors_of(many.as_bytes(), Format::Json),
        ["the document has more than 100000 values"]
    );
}

#[test]
fn an_alias_bomb_is_stopped_early() {
    // A billion copies of a string when expanded.
    let mut bomb = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for level in 1..9 {
        let items = vec![format!("*a{}", level - 1); 10].join(", ");
        bomb.push_str(&format!("a{level}: &a{level} [{items}]\n"));
    }
    let errors = errors_of(bomb.as_bytes(), Format::Yaml);
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].contains("more than 100000 values (each alias copy counts)"),
        "{errors:?}"
    );
}

#[test]
fn odd_but_harmless_input_gets_clear_errors() {
    assert_eq!(errors_of(b"", Format::Yaml), ["the document is empty"]);
    assert_eq!(
        errors_of(b"# only a comment\n", Format::Yaml),
        ["the document is empty"]
    );
    assert_eq!(
        errors_of(b"just a string", Format::Yaml),
        ["1:1: a manifest must be a mapping of fields"]
    );
    assert_eq!(
        errors_of(b"null", Format::Json),
        ["a manifest must be a mapping of fields"]
    );
    assert!(
        errors_of(b"\xEF\xBB\xBFid: x\n", Format::Yaml)
            .iter()
            .all(|e| !e.contains("UTF-8")),
        "a BOM is fine"
    );
    assert_eq!(
        errors_of(b"id: \xff", Format::Yaml),
        ["1:5: the document is not valid UTF-8 (byte 4)"]
    );
}
