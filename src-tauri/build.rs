//! Build script: Tauri's code generation, plus a placeholder page when the UI
//! has not been built yet, so `cargo build --workspace` works on a fresh
//! clone. The real UI comes from `npm ci && npm run build` in `ui/`, which
//! replaces the placeholder; the next cargo build embeds it.

use std::path::Path;

const PLACEHOLDER: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>MedHarmony Desk</title></head>
<body style="font-family: sans-serif; margin: 4rem; color: #1f2933">
<h1>MedHarmony Desk was built without its interface</h1>
<p>Run <code>npm ci &amp;&amp; npm run build</code> in the <code>ui/</code> folder, then build MedHarmony Desk again.</p>
<!-- medharmony-ui-placeholder -->
</body></html>
"#;

fn main() {
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/dist");
    let index = dist.join("index.html");
    println!("cargo:rerun-if-changed={}", index.display());
    if !index.exists() {
        println!("cargo:warning=ui/dist is missing: embedding a placeholder page; run `npm ci && npm run build` in ui/ for the real interface");
        if let Err(e) = std::fs::create_dir_all(&dist).and_then(|()| std::fs::write(&index, PLACEHOLDER)) {
            println!("cargo:warning=could not write the placeholder page: {e}");
        }
    }
    warn_if_stale(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src"), &index);
    tauri_build::build();
}

/// Warns when a file under `src` is newer than the built `index` (the interface changed since
/// `npm run build`), so a desktop build does not quietly embed an old interface.
fn warn_if_stale(src: &Path, index: &Path) {
    println!("cargo:rerun-if-changed={}", src.display());
    let Ok(built) = std::fs::metadata(index).and_then(|m| m.modified()) else { return };
    let mut newest: Option<(std::time::SystemTime, std::path::PathBuf)> = None;
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if let Ok(t) = entry.metadata().and_then(|m| m.modified()) {
                if newest.as_ref().is_none_or(|(n, _)| t > *n) {
                    newest = Some((t, path));
                }
            }
        }
    }
    if let Some((_, path)) = newest.filter(|(t, _)| *t > built) {
        println!(
            "cargo:warning=ui/dist is older than {} : this build embeds an old interface; run `npm run build` in ui/ first",
            path.strip_prefix(src.parent().unwrap_or(src)).unwrap_or(&path).display()
        );
    }
}
