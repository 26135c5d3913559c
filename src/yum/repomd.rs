//! `repodata/repomd.xml`: the index of a repository's metadata files.

use quick_xml::events::BytesStart;

use super::YumError;
use super::checksum::Checksum;
use super::xml::{self, Attrs, Capture, Handler};

const DOC: &str = "repomd.xml";

/// Parsed `repomd.xml`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repomd {
    /// `<revision>` text (whitespace-trimmed), if present.
    pub revision: Option<String>,
    /// One entry per `<data>` element, in document order.
    pub records: Vec<RepomdRecord>,
}

/// One `<data type="..">` element of repomd.xml.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepomdRecord {
    /// The data element's `type` attribute, any value (primary, filelists, other, primary_db,
    /// group, group_gz, updateinfo, modules, productid, prestodelta, *_zck, unknown ones...).
    pub mdtype: String,
    /// `<location href>`, validated with [`super::validate_relative_path`].
    pub location: String,
    /// `<checksum type="..">` of the file as stored (compressed).
    pub checksum: Checksum,
    /// `<open-checksum>`: checksum of the decompressed content, if given.
    pub open_checksum: Option<Checksum>,
    /// `<size>` of the file as stored.
    pub size: Option<u64>,
    /// `<open-size>` of the decompressed content.
    pub open_size: Option<u64>,
}

impl Repomd {
    /// The record whose mdtype is "primary" (error if none or more than one).
    pub fn primary(&self) -> Result<&RepomdRecord, YumError> {
        let mut it = self.records.iter().filter(|r| r.mdtype == "primary");
        match (it.next(), it.count()) {
            (None, _) => Err(YumError::NoPrimary),
            (Some(r), 0) => Ok(r),
            (Some(_), more) => Err(YumError::DuplicatePrimary(more + 1)),
        }
    }
}

/// Parses repomd.xml (plain XML; repomd.xml is never compressed).
///
/// Unknown elements (`<timestamp>`, `<database_version>`, `<header-checksum>`, `<tags>`, ...) are
/// ignored. Every `<data>` must have a non-empty `type`, a `<checksum>` and a `<location>`;
/// `<location xml:base=..>` is refused.
pub fn parse_repomd(xml: &[u8]) -> Result<Repomd, YumError> {
    let mut p = Parser::default();
    xml::drive(xml, DOC, "repomd", &mut p)?;
    Ok(Repomd {
        revision: p.revision,
        records: p.records,
    })
}

#[derive(Default)]
struct Parser {
    revision: Option<String>,
    records: Vec<RepomdRecord>,
    data: Option<DataBuilder>,
    capture: Option<Capture>,
}

#[derive(Default)]
struct DataBuilder {
    /// Position among the `<data>` elements, 1-based, for messages.
    index: usize,
    mdtype: String,
    location: Option<String>,
    checksum: Option<Checksum>,
    open_checksum: Option<Checksum>,
    size: Option<u64>,
    open_size: Option<u64>,
}

impl DataBuilder {
    fn context(&self) -> String {
        format!("<data type={:?}> (record {})", self.mdtype, self.index)
    }

    fn finish(self) -> Result<RepomdRecord, YumError> {
        let missing =
            |what: &str| YumError::invalid(DOC, self.context(), format!("missing <{what}>"));
        Ok(RepomdRecord {
            location: self.location.clone().ok_or_else(|| missing("location"))?,
            checksum: self.checksum.clone().ok_or_else(|| missing("checksum"))?,
            mdtype: self.mdtype,
            open_checksum: self.open_checksum,
            size: self.size,
            open_size: self.open_size,
        })
    }
}

/// Stores `value` in `slot`, refusing a second occurrence of the element.
fn set_once<T>(
    slot: &mut Option<T>,
    value: T,
    element: &str,
    context: String,
) -> Result<(), YumError> {
    if slot.is_some() {
        return Err(YumError::invalid(
            DOC,
            context,
            format!("more than one <{element}>"),
        ));
    }
    *slot = Some(value);
    Ok(())
}

impl Handler for Parser {
    fn start(&mut self, path: &[String], name: &str, e: &BytesStart<'_>) -> Result<(), YumError> {
        match (path.len(), name) {
            (1, "revision") => {
                if self.revision.is_some() {
                    return Err(YumError::invalid(
                        DOC,
                        "<repomd>",
                        "more than one <revision>",
                    ));
                }
                self.capture = Some(Capture {
                    depth: 2,
                    attrs: Attrs::read(e, DOC, &|| "<revision>".into())?,
                    text: String::new(),
                });
            }
            (1, "data") => {
                let index = self.records.len() + 1;
                let ctx = || format!("<data> (record {index})");
                let attrs = Attrs::read(e, DOC, &ctx)?;
                let mdtype = match attrs.get("type") {
                    Some(t) if !xml::trim(t).is_empty() => t.to_owned(),
                    _ => {
                        return Err(YumError::invalid(
                            DOC,
                            ctx(),
                            "missing or empty type attribute",
                        ));
                    }
                };
                self.data = Some(DataBuilder {
                    index,
                    mdtype,
                    ..Default::default()
                });
            }
            (2, _) if path[1] == "data" => {
                let Some(data) = self.data.as_mut() else {
                    return Ok(());
                };
                let context = data.context();
                let ctx = || context.clone();
                match name {
                    "location" => {
                        let attrs = Attrs::read(e, DOC, &ctx)?;
                        let href = xml::location(&attrs, DOC, &ctx)?;
                        set_once(&mut data.location, href, name, context)?;
                    }
                    "checksum" | "open-checksum" | "size" | "open-size" => {
                        self.capture = Some(Capture {
                            depth: 3,
                            attrs: Attrs::read(e, DOC, &ctx)?,
                            text: String::new(),
                        });
                    }
                    _ => {}
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn end(&mut self, path: &[String], name: &str) -> Result<(), YumError> {
        let depth = path.len() + 1;
        if let Some(cap) = self.capture.take_if(|c| c.depth == depth) {
            if depth == 2 {
                self.revision = Some(xml::trim(&cap.text).to_owned());
            } else if let Some(data) = self.data.as_mut() {
                let context = data.context();
                let ctx = || context.clone();
                match name {
                    "checksum" => {
                        let c = xml::checksum(&cap.attrs, &cap.text, name, DOC, &ctx)?;
                        set_once(&mut data.checksum, c, name, ctx())?;
                    }
                    "open-checksum" => {
                        let c = xml::checksum(&cap.attrs, &cap.text, name, DOC, &ctx)?;
                        set_once(&mut data.open_checksum, c, name, ctx())?;
                    }
                    "size" => {
                        let n = xml::parse_u64(&cap.text, "<size>", DOC, &ctx)?;
                        set_once(&mut data.size, n, name, ctx())?;
                    }
                    "open-size" => {
                        let n = xml::parse_u64(&cap.text, "<open-size>", DOC, &ctx)?;
                        set_once(&mut data.open_size, n, name, ctx())?;
                    }
                    _ => {}
                }
            }
        }
        if depth == 2
            && name == "data"
            && let Some(data) = self.data.take()
        {
            self.records.push(data.finish()?);
        }
        Ok(())
    }

    fn text(&mut self, path: &[String], text: &str) -> Result<(), YumError> {
        if let Some(cap) = self.capture.as_mut().filter(|c| c.depth == path.len()) {
            let ctx = || format!("<{}>", path.last().map_or("", String::as_str));
            xml::push_text(&mut cap.text, text, DOC, &ctx)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::checksum::ChecksumKind;
    use super::*;

    const SHA1: &str = "a9993e364706816aba3e25717850c26c9cd0d89d";

    fn doc(data: &str) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<repomd xmlns=\"http://linux.duke.edu/metadata/repo\" \
             xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\">\n{data}\n</repomd>\n"
        )
    }

    fn err(data: &str) -> YumError {
        parse_repomd(doc(data).as_bytes()).unwrap_err()
    }

    #[test]
    fn minimal_and_optional_fields() {
        let xml = doc(&format!(
            "<tags><content>binary-x86_64</content></tags>\
             <data type=\"updateinfo_zck\"><checksum type=\"SHA\">\n  {}\n</checksum>\
             <header-checksum type=\"sha256\">{SHA1}</header-checksum>\
             <location href=\"repodata/a&amp;b+c~d.xml.zck\"/><timestamp>1</timestamp></data>\
             <data type=\"x-custom\"><location href=\"x\"></location>\
             <checksum type=\"sha1\"><![CDATA[{SHA1}]]></checksum><size> 0 </size>\
             <open-size>18446744073709551615</open-size></data>",
            SHA1.to_uppercase()
        ));
        let md = parse_repomd(xml.as_bytes()).unwrap();
        assert_eq!(md.revision, None);
        assert_eq!(md.records.len(), 2);
        let r = &md.records[0];
        assert_eq!(r.mdtype, "updateinfo_zck");
        assert_eq!(r.location, "repodata/a&b+c~d.xml.zck");
        assert_eq!(r.checksum.kind, ChecksumKind::Sha1);
        assert_eq!(r.checksum.hex, SHA1);
        assert_eq!(
            (r.open_checksum.as_ref(), r.size, r.open_size),
            (None, None, None)
        );
        let r = &md.records[1];
        assert_eq!((r.size, r.open_size), (Some(0), Some(u64::MAX)));
        assert!(matches!(md.primary(), Err(YumError::NoPrimary)));
    }

    #[test]
    fn revision_is_trimmed_and_unique() {
        let md = parse_repomd(doc("<revision>\n 8 </revision>").as_bytes()).unwrap();
        assert_eq!(md.revision.as_deref(), Some("8"));
        assert!(md.records.is_empty());
        let e = err("<revision>1</revision><revision>2</revision>");
        assert!(e.to_string().contains("more than one <revision>"), "{e}");
    }

    #[test]
    fn structural_errors_name_the_record() {
        let loc = "<location href=\"repodata/p.xml.gz\"/>";
        let sum = format!("<checksum type=\"sha1\">{SHA1}</checksum>");
        for (data, needle) in [
            (format!("<data>{sum}{loc}</data>"), "missing or empty type"),
            (
                format!("<data type=\" \">{sum}{loc}</data>"),
                "missing or empty type",
            ),
            (
                format!("<data type=\"primary\">{loc}</data>"),
                "missing <checksum>",
            ),
            (
                format!("<data type=\"primary\">{sum}</data>"),
                "missing <location>",
            ),
            (
                format!("<data type=\"primary\">{sum}{sum}{loc}</data>"),
                "more than one <checksum>",
            ),
            (
                format!("<data type=\"primary\">{sum}{loc}{loc}</data>"),
                "more than one <location>",
            ),
            (
                format!("<data type=\"primary\"><checksum>{SHA1}</checksum>{loc}</data>"),
                "no type attribute",
            ),
            (
                format!("<data type=\"primary\">{sum}<location/></data>"),
                "no href",
            ),
            (
                format!("<data type=\"primary\">{sum}{loc}<size>-1</size></data>"),
                "<size> is not an integer",
            ),
            (
                format!("<data type=\"primary\">{sum}{loc}<size>+1</size></data>"),
                "<size> is not an integer",
            ),
            (
                format!("<data type=\"primary\">{sum}{loc}<size>1.5</size></data>"),
                "<size> is not an integer",
            ),
            (
                format!("<data type=\"primary\">{sum}{loc}<open-size></open-size></data>"),
                "<open-size> is not an integer",
            ),
            (
                format!(
                    "<data type=\"primary\">{sum}{loc}<open-size>99999999999999999999</open-size></data>"
                ),
                "<open-size> is not an integer",
            ),
        ] {
            let e = err(&data);
            assert!(matches!(e, YumError::Invalid { .. }), "{data}: {e:?}");
            let msg = e.to_string();
            assert!(msg.starts_with("repomd.xml: <data"), "{msg}");
            assert!(msg.contains(needle), "{data}: {msg}");
        }
    }

    #[test]
    fn location_checks() {
        let sum = format!("<checksum type=\"sha1\">{SHA1}</checksum>");
        let e = err(&format!(
            "<data type=\"primary\">{sum}<location xml:base=\"http://a/b/\" href=\"repodata/p.xml.gz\"/></data>"
        ));
        match &e {
            YumError::RemoteLocation {
                document,
                href,
                base,
            } => {
                assert_eq!(
                    (*document, href.as_str(), base.as_str()),
                    ("repomd.xml", "repodata/p.xml.gz", "http://a/b/")
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(e.to_string().contains("xml:base=\"http://a/b/\""), "{e}");
        for href in ["../p.xml.gz", "/repodata/p.xml.gz", "repodata/../../p"] {
            let e = err(&format!(
                "<data type=\"group\">{sum}<location href=\"{href}\"/></data>"
            ));
            match &e {
                YumError::BadPath { path, reason } => {
                    assert_eq!(path, href);
                    assert!(
                        reason.contains("repomd.xml, <data type=\"group\">"),
                        "{reason}"
                    );
                }
                other => panic!("{other:?}"),
            }
        }
        let e = err(&format!(
            "<data type=\"group\">{sum}<location href=\"a&bogus;\"/></data>"
        ));
        let msg = e.to_string();
        assert!(
            msg.contains("<data type=\"group\">") && msg.contains("unrecognized entity"),
            "{msg}"
        );
    }

    #[test]
    fn checksum_errors() {
        let loc = "<location href=\"repodata/p.xml.gz\"/>";
        match err(&format!(
            "<data type=\"primary\"><checksum type=\"md5\">00</checksum>{loc}</data>"
        )) {
            YumError::UnsupportedChecksum(t) => assert_eq!(t, "md5"),
            other => panic!("{other:?}"),
        }
        for bad in [
            "",
            "zz",
            &SHA1[..39],
            &format!("{SHA1}0"),
            &format!("{} {}", &SHA1[..20], &SHA1[20..]),
        ] {
            let e = err(&format!(
                "<data type=\"primary\"><checksum type=\"sha1\">{bad}</checksum>{loc}</data>"
            ));
            assert!(
                matches!(e, YumError::BadChecksum { kind: "sha1", .. }),
                "{bad:?}: {e:?}"
            );
            assert!(e.to_string().contains("<data type=\"primary\">"), "{e}");
        }
    }

    #[test]
    fn malformed_documents() {
        for xml in [
            "<repomd>",
            "<repomd><data type=\"primary\">",
            "<repomd></data></repomd>",
            "<repomd><data></repomd>",
            "<metadata/>",
            "<repomd/><repomd/>",
            "not xml at all",
            "<repomd attr=\"unterminated/>",
            "<repomd><data type=\"a\" type=\"b\"/></repomd>",
            "\u{feff}",
        ] {
            let e = parse_repomd(xml.as_bytes()).expect_err(xml);
            assert!(!e.to_string().is_empty(), "{xml}");
        }
        // Not UTF-8.
        assert!(parse_repomd(b"<repomd><revision>\xff\xfe</revision></repomd>").is_err());
        // A byte-order mark is fine.
        assert!(parse_repomd("\u{feff}<repomd/>".as_bytes()).is_ok());
    }
}
