//! The `ferry` binary: parse arguments, run, print errors for people.

#![forbid(unsafe_code)]

mod cli;

fn main() {
    match cli::run() {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("ferry: {}", message(&e));
            let args: Vec<String> = std::env::args().collect();
            if let Some(h) = cli::hint(&e, &args) {
                eprintln!("hint: {h}");
            }
            std::process::exit(cli::exit_status(&e));
        }
    }
}

/// The error and its causes on one line, each said once: a cause whose text the message
/// already holds (an error that prints its source) is not repeated.
fn message(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if text.is_empty() || out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::message;

    #[test]
    fn a_cause_the_message_already_holds_is_said_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory");
        let e = anyhow::Error::from(io).context("reading /x: No such file or directory");
        assert_eq!(message(&e), "reading /x: No such file or directory");
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory");
        let e = anyhow::Error::from(io).context("--trust");
        assert_eq!(message(&e), "--trust: No such file or directory");
    }
}
