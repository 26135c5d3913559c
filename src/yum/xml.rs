//! Small helpers shared by the repomd and primary parsers (quick-xml 0.42 API).

use std::io;
use std::sync::Arc;

use quick_xml::XmlVersion;
use quick_xml::events::{BytesRef, BytesStart};

use super::YumError;
use super::checksum::{Checksum, ChecksumKind};

/// Longest text content we are willing to collect for one element (names, digests, numbers).
pub(crate) const MAX_TEXT: usize = 64 * 1024;

/// Converts a quick-xml error. I/O errors (including decompression errors from
/// [`super::decompress::decompressed`]) become [`YumError::Io`], the rest [`YumError::Xml`].
pub(crate) fn xml_error(document: &'static str, position: u64, e: quick_xml::Error) -> YumError {
    match e {
        quick_xml::Error::Io(io) => YumError::Io {
            context: format!("{document}: reading input"),
            source: Arc::try_unwrap(io).unwrap_or_else(|io| io::Error::new(io.kind(), io)),
        },
        source => YumError::Xml {
            document,
            position,
            source,
        },
    }
}

/// All attributes of an element: qualified name and unescaped, normalized value.
pub(crate) struct Attrs(Vec<(String, String)>);

impl Attrs {
    pub(crate) fn read(
        e: &BytesStart<'_>,
        document: &'static str,
        context: &dyn Fn() -> String,
    ) -> Result<Self, YumError> {
        let mut out = Vec::new();
        for a in e.attributes() {
            let a = a.map_err(|err| {
                YumError::invalid(document, context(), format!("bad attribute: {err}"))
            })?;
            let key = a.key.as_ref().to_owned();
            let value = a.normalized_value(XmlVersion::Implicit1_0).map_err(|err| {
                YumError::invalid(
                    document,
                    context(),
                    format!("cannot unescape attribute {key}: {err}"),
                )
            })?;
            out.push((key, value.into_owned()));
        }
        Ok(Attrs(out))
    }

    /// Value of the attribute with this exact qualified name (e.g. `type`, `xml:base`).
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Appends character data to `out`, enforcing [`MAX_TEXT`].
pub(crate) fn push_text(
    out: &mut String,
    text: &str,
    document: &'static str,
    context: &dyn Fn() -> String,
) -> Result<(), YumError> {
    if out.len() + text.len() > MAX_TEXT {
        return Err(YumError::invalid(
            document,
            context(),
            format!("text content longer than {MAX_TEXT} bytes"),
        ));
    }
    out.push_str(text);
    Ok(())
}

/// Resolves `&name;` / `&#N;` (quick-xml 0.42 reports these as separate `GeneralRef` events).
pub(crate) fn resolve_ref(
    r: &BytesRef<'_>,
    document: &'static str,
    context: &dyn Fn() -> String,
) -> Result<String, YumError> {
    let bad = |why: String| YumError::invalid(document, context(), why);
    match r.resolve_char_ref() {
        Ok(Some(c)) => return Ok(c.to_string()),
        Ok(None) => {}
        Err(e) => return Err(bad(format!("bad character reference &{};: {e}", &**r))),
    }
    quick_xml::escape::resolve_xml_entity(r)
        .map(str::to_owned)
        .ok_or_else(|| bad(format!("unknown entity &{};", &**r)))
}

/// Strips XML whitespace (space, tab, CR, LF) from both ends.
pub(crate) fn trim(s: &str) -> &str {
    s.trim_matches([' ', '\t', '\r', '\n'])
}

/// A non-negative decimal integer; no sign, no spaces inside, no overflow.
pub(crate) fn parse_u64(
    s: &str,
    what: &str,
    document: &'static str,
    context: &dyn Fn() -> String,
) -> Result<u64, YumError> {
    let t = trim(s);
    let ok = !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| t.parse::<u64>().ok()).flatten().ok_or_else(|| {
        YumError::invalid(
            document,
            context(),
            format!("{what} is not an integer between 0 and 2^64-1: {s:?}"),
        )
    })
}

/// `<checksum type="..">hex</checksum>` (also used for `<open-checksum>`).
pub(crate) fn checksum(
    attrs: &Attrs,
    text: &str,
    element: &str,
    document: &'static str,
    context: &dyn Fn() -> String,
) -> Result<Checksum, YumError> {
    let ty = attrs.get("type").ok_or_else(|| {
        YumError::invalid(
            document,
            context(),
            format!("<{element}> has no type attribute"),
        )
    })?;
    let kind = ChecksumKind::from_repo_type(ty)?;
    Checksum::new(kind, trim(text)).map_err(|e| add_context(e, document, context))
}

/// Adds where-information to the free-text reason of [`YumError::BadPath`] and
/// [`YumError::BadChecksum`]; other errors pass through unchanged.
pub(crate) fn add_context(
    e: YumError,
    document: &'static str,
    context: &dyn Fn() -> String,
) -> YumError {
    match e {
        YumError::BadPath { path, reason } => YumError::BadPath {
            path,
            reason: format!("{reason} (in {document}, {})", context()),
        },
        YumError::BadChecksum { kind, hex, reason } => YumError::BadChecksum {
            kind,
            hex,
            reason: format!("{reason} (in {document}, {})", context()),
        },
        other => other,
    }
}

/// `<location href=".."/>`: refuses `xml:base`, validates the href.
pub(crate) fn location(
    attrs: &Attrs,
    document: &'static str,
    context: &dyn Fn() -> String,
) -> Result<String, YumError> {
    let href = attrs.get("href").ok_or_else(|| {
        YumError::invalid(document, context(), "<location> has no href attribute")
    })?;
    if let Some(base) = attrs.get("xml:base") {
        return Err(YumError::RemoteLocation {
            document,
            href: href.to_owned(),
            base: base.to_owned(),
        });
    }
    super::validate_relative_path(href).map_err(|e| add_context(e, document, context))?;
    Ok(href.to_owned())
}

/// Callbacks for [`drive`]. `path` holds the local names of the open ancestors, root first.
pub(crate) trait Handler {
    /// An element starts (`path` does not include it yet).
    fn start(&mut self, path: &[String], name: &str, e: &BytesStart<'_>) -> Result<(), YumError>;
    /// An element ends (`path` no longer includes it).
    fn end(&mut self, path: &[String], name: &str) -> Result<(), YumError>;
    /// Character data directly inside the innermost element of `path` (entities resolved).
    fn text(&mut self, path: &[String], text: &str) -> Result<(), YumError>;
    /// Whether [`Handler::text`] wants the text of an element at this depth (`path.len()`).
    fn wants_text(&self, _depth: usize) -> bool {
        true
    }
}

/// Deepest element nesting accepted (real metadata nests 4-5 levels).
pub(crate) const MAX_DEPTH: usize = 256;

/// Runs a streaming event loop over `r`, checking that there is exactly one root element named
/// `root` and that the document is complete, and feeding `h`. Memory use is bounded by the
/// nesting depth and the largest single event, not by the document size.
pub(crate) fn drive<R: io::BufRead>(
    r: R,
    document: &'static str,
    root: &str,
    h: &mut impl Handler,
) -> Result<(), YumError> {
    use quick_xml::events::Event;

    let mut reader = quick_xml::Reader::from_reader(r);
    reader.config_mut().check_end_names = true;
    let mut buf = Vec::new();
    // Names of the open elements are `names[..depth]`; the Strings are reused, so the steady
    // state allocates nothing per element.
    let mut names: Vec<String> = Vec::new();
    let mut depth = 0;
    let mut root_seen = false;
    let mut root_closed = false;
    let open = |names: &[String]| format!("inside <{}>", names.join("><"));
    loop {
        buf.clear();
        let ev = reader
            .read_event_into(&mut buf)
            .map_err(|e| xml_error(document, reader.error_position(), e))?;
        match ev {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let name = e.local_name().into_inner();
                if depth == 0 {
                    if root_closed {
                        return Err(YumError::invalid(
                            document,
                            format!("<{name}> after </{root}>"),
                            "more than one root element",
                        ));
                    }
                    if name != root {
                        return Err(YumError::invalid(
                            document,
                            "root element",
                            format!("expected <{root}>, found <{}>", e.name().as_ref()),
                        ));
                    }
                    root_seen = true;
                }
                h.start(&names[..depth], name, e)?;
                if matches!(ev, Event::Empty(_)) {
                    h.end(&names[..depth], name)?;
                    root_closed |= depth == 0;
                } else {
                    if depth == MAX_DEPTH {
                        return Err(YumError::invalid(
                            document,
                            open(&names[..3]),
                            format!("elements nested more than {MAX_DEPTH} deep"),
                        ));
                    }
                    match names.get_mut(depth) {
                        Some(slot) => {
                            slot.clear();
                            slot.push_str(name);
                        }
                        None => names.push(name.to_owned()),
                    }
                    depth += 1;
                }
            }
            Event::End(_) => {
                // quick-xml has already checked that the end tag matches the open element.
                if depth == 0 {
                    return Err(YumError::invalid(
                        document,
                        "end tag",
                        "closing tag without an open element",
                    ));
                }
                depth -= 1;
                let (path, rest) = names.split_at(depth);
                h.end(path, &rest[0])?;
                root_closed |= depth == 0;
            }
            // Text the handler does not collect (the indentation between elements, most
            // of a big primary.xml; quick-xml has already decoded it) is not copied.
            Event::Text(_) if depth > 0 && !h.wants_text(depth) => {}
            Event::Text(t) if depth > 0 => h.text(&names[..depth], &t.xml10_content())?,
            Event::CData(t) if depth > 0 => h.text(&names[..depth], &t.xml10_content())?,
            Event::GeneralRef(r) if depth > 0 => {
                let s = resolve_ref(&r, document, &|| open(&names[..depth]))?;
                h.text(&names[..depth], &s)?;
            }
            Event::Text(t) if !trim(&t).is_empty() => {
                return Err(YumError::invalid(
                    document,
                    "outside the root element",
                    format!("unexpected text {:?}", trim(&t)),
                ));
            }
            Event::CData(_) | Event::GeneralRef(_) => {
                return Err(YumError::invalid(
                    document,
                    "outside the root element",
                    "unexpected character data",
                ));
            }
            Event::Eof => break,
            // XML declaration, comments, processing instructions, DOCTYPE, whitespace outside root.
            _ => {}
        }
    }
    if depth > 0 {
        return Err(YumError::invalid(
            document,
            open(&names[..depth]),
            "document ends before its elements are closed (truncated?)",
        ));
    }
    if !root_seen {
        return Err(YumError::invalid(
            document,
            "whole document",
            format!("no <{root}> root element (empty or not XML)"),
        ));
    }
    Ok(())
}

/// Text being collected for one leaf element.
pub(crate) struct Capture {
    /// Depth of the element whose text is collected (its `path.len()` once opened).
    pub(crate) depth: usize,
    pub(crate) attrs: Attrs,
    pub(crate) text: String,
}
