//! Writes the UI's TypeScript wire types (`ui/src/wire/fieldcheck.ts`) from the Rust types:
//! `cargo run -p fieldcheck-bridge --features ts --bin gen-ts`.

fn main() -> std::io::Result<()> {
    let path = fieldcheck_bridge::wire_ts::output_path();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&path, fieldcheck_bridge::wire_ts::typescript())?;
    println!("wrote {}", fieldcheck_bridge::wire_ts::OUTPUT);
    Ok(())
}
