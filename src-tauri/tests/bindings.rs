//! The TypeScript bindings in `ui/src/bindings/` cannot drift from the Rust
//! DTOs: this test regenerates them in memory and fails when a checked-in
//! file differs, is missing, or is left over. To update them after changing
//! a DTO: `UPDATE_BINDINGS=1 cargo test -p medharmony-desk --test bindings`.

use std::collections::BTreeSet;
use std::path::Path;

#[test]
fn checked_in_bindings_match_the_rust_types() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/bindings");
    let generated = medharmony_desk::dto::generated_bindings();
    if std::env::var_os("UPDATE_BINDINGS").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "ts") {
                std::fs::remove_file(path).unwrap();
            }
        }
        for (name, text) in &generated {
            std::fs::write(dir.join(name), text).unwrap();
        }
        return;
    }
    let mut problems = Vec::new();
    for (name, text) in &generated {
        match std::fs::read_to_string(dir.join(name)) {
            Ok(found) if found == *text => {}
            Ok(_) => problems.push(format!("{name} differs")),
            Err(_) => problems.push(format!("{name} is missing")),
        }
    }
    let expected: BTreeSet<&str> = generated.iter().map(|(n, _)| n.as_str()).collect();
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".ts") && !expected.contains(name.as_str()) {
                problems.push(format!("{name} is not generated from any Rust type"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "ui/src/bindings is out of date ({}); run `UPDATE_BINDINGS=1 cargo test -p medharmony-desk --test bindings` and commit the result",
        problems.join(", ")
    );
}
