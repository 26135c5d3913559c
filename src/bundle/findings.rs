//! What a check finds wrong, and where: which volume (as given, and its number when it is
//! known), which file on it, what kind of problem, and what it means for the operator.

use std::fmt;
use std::path::Path;

use serde::Serialize;

/// Kinds of problem a check can find.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ProblemKind {
    /// A file that should be there is not.
    Missing,
    /// A file shorter than it should be.
    Truncated,
    /// A file whose bytes are wrong.
    Corrupt,
    /// Signed by a key that is not trusted.
    UntrustedKey,
    /// The signature does not verify, or signed files disagree about what they sign.
    BadSignature,
    /// A file that does not parse or breaks a rule of the format.
    Malformed,
    /// A volume of another bundle.
    WrongBundle,
    /// The same volume number given twice.
    Duplicate,
    /// An object that does not decode to its id.
    DamagedObject,
    /// A file that cannot be read (an I/O error, or not a regular file).
    Unreadable,
}

/// One thing wrong.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// The volume directory as given.
    pub volume: String,
    /// Its number, when known.
    pub number: Option<u32>,
    /// The file on that volume, when one is at fault.
    pub file: Option<String>,
    /// Kind of problem.
    pub kind: ProblemKind,
    /// What it means.
    pub detail: String,
}

impl Finding {
    /// A finding about `file` (or the whole volume) on the volume at `dir`.
    pub fn new(
        dir: &Path,
        number: Option<u32>,
        file: Option<&str>,
        kind: ProblemKind,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            volume: dir.display().to_string(),
            number,
            file: file.map(str::to_string),
            kind,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.volume)?;
        if let Some(n) = self.number {
            write!(f, " (volume {n})")?;
        }
        match &self.file {
            Some(file) => write!(f, ": {file} {}", self.detail),
            None => write!(f, ": {}", self.detail),
        }
    }
}
