//! MedHarmony Desk's executable: see the `medharmony_desk` library.

// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    medharmony_desk::run();
}
