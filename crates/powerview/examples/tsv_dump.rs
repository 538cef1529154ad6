//! Prints what the parser makes of T302 files: outcome, format, channels, counters, first rows.
//!
//! `cargo run -p powerview --example tsv_dump -- [--tz ZONE] [--rows N] FILE...`

use powerview::{ParseOptions, TsvFile};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut zone = None;
    let mut show_rows = 3usize;
    let mut files = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--tz" => zone = args.next(),
            "--rows" => show_rows = args.next().ok_or("--rows needs a value")?.parse()?,
            _ => files.push(arg),
        }
    }
    let options = ParseOptions::with_timezone_name(zone.as_deref())?;
    for path in files {
        println!("== {path}");
        let mut file = match TsvFile::open_path(&path, &options) {
            Ok(file) => file,
            Err(e) => {
                println!("error ({:?}): {e}", e.category());
                continue;
            }
        };
        let h = file.header().clone();
        println!(
            "outcome {:?}, format {:?}, marker {:?}, master {:?}, phase {:?}, time {:?}",
            h.outcome, h.format, h.marker, h.master_sn, h.phase_type, h.time_basis
        );
        if let Some(json) = &h.header_json {
            println!("header json {json}");
        }
        println!("{} channels:", h.channels.len());
        for c in &h.channels {
            println!(
                "  {:>3} {:<28} {:<6} {:<8} {:<6} {:?} {:?} {}",
                c.column,
                c.channel_id,
                c.device_type.as_str(),
                c.device_sn,
                c.label,
                c.name,
                c.unit,
                c.source_format
            );
        }
        let mut shown = 0;
        loop {
            match file.next_row() {
                Ok(Some(row)) => {
                    if shown < show_rows {
                        println!("  row {} {:?}", row.time_us, row.values);
                        shown += 1;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    println!("error ({:?}): {e}", e.category());
                    break;
                }
            }
        }
        println!("final outcome {:?}; {:?}", file.outcome(), file.stats());
    }
    Ok(())
}
