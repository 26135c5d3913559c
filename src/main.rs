//! The `ferry` binary: parse arguments, run, print errors for people.

#![forbid(unsafe_code)]

mod cli;

fn main() {
    match cli::run() {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("ferry: {e:#}");
            std::process::exit(1);
        }
    }
}
