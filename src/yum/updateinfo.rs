//! `updateinfo.xml`: a repository's errata (advisories), for the server's repository
//! page. Only what an operator looks at is kept: id, type, severity, title, issued date,
//! and the packages each advisory names.

use std::io::BufRead;

use quick_xml::events::BytesStart;

use super::YumError;
use super::xml::{self, Attrs, Handler};

const DOC: &str = "updateinfo.xml";

/// One `<update>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Erratum {
    /// `<id>`, e.g. `RHSA-2026:0001`.
    pub id: String,
    /// `type`: security, bugfix, enhancement, …
    pub kind: String,
    /// `<severity>`, when given.
    pub severity: Option<String>,
    /// `<title>`.
    pub title: String,
    /// `<issued date>`.
    pub issued: Option<String>,
    /// The packages it names, as `name-version-release.arch`.
    pub packages: Vec<String>,
}

#[derive(Default)]
struct Parser {
    errata: Vec<Erratum>,
    current: Option<Erratum>,
    text: String,
}

impl Handler for Parser {
    fn start(&mut self, path: &[String], name: &str, e: &BytesStart<'_>) -> Result<(), YumError> {
        let ctx = || format!("<update> #{}", self.errata.len() + 1);
        self.text.clear();
        match (path.len(), name) {
            (1, "update") => {
                let a = Attrs::read(e, DOC, &ctx)?;
                self.current = Some(Erratum {
                    kind: a.get("type").unwrap_or("").to_string(),
                    ..Default::default()
                });
            }
            (2, "issued") => {
                let a = Attrs::read(e, DOC, &ctx)?;
                if let Some(u) = &mut self.current {
                    u.issued = a.get("date").map(str::to_string);
                }
            }
            (_, "package") if path.iter().any(|p| p == "pkglist") => {
                let a = Attrs::read(e, DOC, &ctx)?;
                if let Some(u) = &mut self.current {
                    u.packages.push(format!(
                        "{}-{}-{}.{}",
                        a.get("name").unwrap_or("?"),
                        a.get("version").unwrap_or("?"),
                        a.get("release").unwrap_or("?"),
                        a.get("arch").unwrap_or("?")
                    ));
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn end(&mut self, path: &[String], name: &str) -> Result<(), YumError> {
        let text = xml::trim(&self.text).to_string();
        match (path.len(), name) {
            (1, "update") => {
                if let Some(u) = self.current.take() {
                    self.errata.push(u);
                }
            }
            (2, field) => {
                if let Some(u) = &mut self.current {
                    match field {
                        "id" => u.id = text,
                        "title" => u.title = text,
                        "severity" if !text.is_empty() => u.severity = Some(text),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
        self.text.clear();
        Ok(())
    }

    fn text(&mut self, path: &[String], text: &str) -> Result<(), YumError> {
        if path.len() == 3 {
            let ctx = || format!("<update> #{}", self.errata.len() + 1);
            xml::push_text(&mut self.text, text, DOC, &ctx)?;
        }
        Ok(())
    }
}

/// Stream `updateinfo.xml` (already decompressed) into its errata.
pub fn parse_updateinfo<R: BufRead>(r: R) -> Result<Vec<Erratum>, YumError> {
    let mut p = Parser::default();
    xml::drive(r, DOC, "updates", &mut p)?;
    Ok(p.errata)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errata_of_the_test_library() {
        let f = std::fs::read_dir(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/library/repos/baseos/repodata"
        ))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with("updateinfo.xml.gz"))
        .unwrap();
        let r = super::super::decompress::decompressed(std::io::BufReader::new(
            std::fs::File::open(f).unwrap(),
        ))
        .unwrap();
        let errata = parse_updateinfo(r).unwrap();
        assert!(errata.len() >= 2, "{errata:?}");
        let e = &errata[0];
        assert_eq!(e.id, "FERRY-2026:0001");
        assert_eq!(e.kind, "security");
        assert_eq!(e.severity.as_deref(), Some("Important"));
        assert_eq!(e.issued.as_deref(), Some("2026-01-10 00:00:00"));
        assert_eq!(e.packages, ["ferry-hello-1.1-1.noarch"]);
        assert!(e.title.contains("ferry-hello"));
    }
}
