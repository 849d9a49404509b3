//! Province-scale measurements (issue 6): filled in by the province work.

fn main() {
    eprintln!("province: not yet written");
    std::process::exit(2);
}
