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
    tauri_build::build();
}
