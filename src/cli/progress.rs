//! Progress for operators: a bar on a terminal, plain lines otherwise.

use std::io::{IsTerminal as _, Write as _};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

use ferry::progress::Progress;
use ferry::size::human;

/// Chooses bars when stderr is a terminal, lines when it is not, nothing with `--quiet`.
pub fn for_stderr() -> Box<dyn Progress> {
    if super::output::quiet() {
        Box::new(ferry::progress::Silent)
    } else if std::io::stderr().is_terminal() {
        Box::new(Bars::default())
    } else {
        Box::new(Lines::default())
    }
}

#[derive(Default)]
struct Bars {
    bar: Mutex<Option<ProgressBar>>,
}

impl Progress for Bars {
    fn begin(&self, phase: &str, total: Option<u64>) {
        let bar = match total {
            Some(t) => {
                let b = ProgressBar::new(t);
                if let Ok(s) = ProgressStyle::with_template(
                    "{msg:24} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                ) {
                    b.set_style(s.progress_chars("=> "));
                }
                b
            }
            None => ProgressBar::new_spinner(),
        };
        bar.set_message(phase.to_string());
        bar.enable_steady_tick(std::time::Duration::from_millis(200));
        *self.bar.lock().expect("progress lock") = Some(bar);
    }
    fn advance(&self, bytes: u64) {
        if let Some(b) = &*self.bar.lock().expect("progress lock") {
            b.inc(bytes);
        }
    }
    fn end(&self) {
        if let Some(b) = self.bar.lock().expect("progress lock").take() {
            b.finish_and_clear();
            eprintln!("{}: done in {:.1?}", b.message(), b.elapsed());
        }
    }
    fn note(&self, line: &str) {
        match &*self.bar.lock().expect("progress lock") {
            Some(b) => b.println(line),
            None => eprintln!("{line}"),
        }
    }
}

/// One line when a phase starts, one per tenth done, one when it ends.
#[derive(Default)]
struct Lines {
    phase: Mutex<Option<(String, Option<u64>, Instant)>>,
    done: AtomicU64,
    next_tenth: AtomicU64,
}

impl Progress for Lines {
    fn begin(&self, phase: &str, total: Option<u64>) {
        match total {
            Some(t) => eprintln!("{phase}: {} to go", human(t)),
            None => eprintln!("{phase}..."),
        }
        self.done.store(0, Ordering::Relaxed);
        self.next_tenth.store(1, Ordering::Relaxed);
        *self.phase.lock().expect("progress lock") =
            Some((phase.to_string(), total, Instant::now()));
    }
    fn advance(&self, bytes: u64) {
        let done = self.done.fetch_add(bytes, Ordering::Relaxed) + bytes;
        let guard = self.phase.lock().expect("progress lock");
        if let Some((phase, Some(total), _)) = &*guard
            && *total > 0
        {
            let tenth = self.next_tenth.load(Ordering::Relaxed);
            if tenth < 10 && done * 10 >= total * tenth {
                self.next_tenth
                    .store(done * 10 / total + 1, Ordering::Relaxed);
                eprintln!(
                    "{phase}: {}% ({} of {})",
                    done * 100 / total,
                    human(done),
                    human(*total)
                );
                let _ = std::io::stderr().flush();
            }
        }
    }
    fn end(&self) {
        if let Some((phase, _, start)) = self.phase.lock().expect("progress lock").take() {
            eprintln!("{phase}: done in {:.1?}", start.elapsed());
        }
    }
    fn note(&self, line: &str) {
        eprintln!("{line}");
    }
}
