//! `sqlx::migrate!` embeds each migration file it finds with `include_str!`,
//! so edits to existing files rebuild the crate, but a newly added file does
//! not: without this, an incremental build keeps running the old list.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
