//! Seeded fuzzing of the inputs operators type: ISO-8601 durations and definition files. Inputs
//! never panic the parser; every accepted duration survives a round trip through its text. The
//! corpus of interesting inputs lives in tests/fuzz-corpus.

use repool::batch::BatchDuration;
use std::collections::BTreeMap;

fn check_duration(input: &str) {
    if let Ok(d) = BatchDuration::parse(input) {
        let text = d.to_string();
        let again =
            BatchDuration::parse(&text).unwrap_or_else(|e| panic!("'{input}' → '{text}' does not parse back: {e}"));
        // Batch keeps 100 ns; the normal form may round below that.
        let diff = again.as_std().abs_diff(d.as_std());
        assert!(diff.as_nanos() < 100 || d.is_unbounded(), "'{input}' → '{text}' → {again:?} (was {d:?})");
    }
}

#[test]
fn durations_never_panic_and_round_trip() {
    let corpus = include_str!("fuzz-corpus/durations.txt");
    for line in corpus.lines() {
        check_duration(line);
    }
    let alphabet: Vec<char> = "PTWDHMSY0123456789.-, ".chars().collect();
    let mut rng = fastrand::Rng::with_seed(0xd0_7a71);
    for _ in 0..50_000 {
        let len = rng.usize(0..24);
        let input: String = (0..len).map(|_| alphabet[rng.usize(..alphabet.len())]).collect();
        check_duration(&input);
        check_duration(&format!("P{input}"));
        check_duration(&format!("PT{input}"));
    }
}

#[test]
fn definition_corpus_never_panics() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-corpus");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with("definition") {
            let text = std::fs::read_to_string(&path).unwrap();
            let template = name.ends_with(".j2");
            if let Ok(d) = repool::definition::Definition::from_text(&name, &text, template, &BTreeMap::new()) {
                let _ = d.validate("2024-07-01.20.0");
                let _ = d.validate("2025-06-01");
            }
            seen += 1;
        }
    }
    assert!(seen >= 4, "the corpus has definitions: {seen}");
}
