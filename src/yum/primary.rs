//! `primary.xml`: the package list of a repository.

use std::io::BufRead;

use quick_xml::events::BytesStart;

use super::YumError;
use super::checksum::Checksum;
use super::xml::{self, Attrs, Capture, Handler};

const DOC: &str = "primary.xml";

/// One `<package>` of primary.xml (only what is needed to locate and verify the file).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Package {
    /// `<name>`, e.g. `glibc-common` (whitespace-trimmed, never empty).
    pub name: String,
    /// `<arch>`, e.g. `x86_64`, `noarch`, `src`.
    pub arch: String,
    /// `<version epoch>`; "0" when the attribute is absent (rpm semantics).
    pub epoch: String,
    /// `<version ver>`, exactly as written (may contain `~`, `^`, `+`).
    pub version: String,
    /// `<version rel>`, exactly as written.
    pub release: String,
    /// `<location href>`, validated with [`super::validate_relative_path`].
    pub location: String,
    /// `<checksum type=".." pkgid="..">`: digest of the whole package file.
    pub checksum: Checksum,
    /// `<size package="..">`: size of the package file in bytes.
    pub size: Option<u64>,
}

/// Streams primary.xml (already decompressed, see [`super::decompress::decompressed`]) without
/// loading the whole document; memory proportional to the package list only. If the root
/// `<metadata packages="N">` attribute is present and N != number of `<package>` elements
/// parsed, returns [`YumError::PackageCountMismatch`] (truncated/altered metadata).
///
/// Only direct children of `<package>` are looked at (`<name>`, `<arch>`, `<version>`,
/// `<checksum>`, `<size>`, `<location>`); `<format>` and its `rpm:` content are skipped. Each of
/// them must appear at most once; all but `<size>` are required. Packages whose `type` is not
/// "rpm" are parsed the same way.
pub fn parse_primary<R: BufRead>(r: R) -> Result<Vec<Package>, YumError> {
    let mut p = Parser::default();
    xml::drive(r, DOC, "metadata", &mut p)?;
    let found = p.packages.len() as u64;
    match p.declared {
        Some(declared) if declared != found => {
            Err(YumError::PackageCountMismatch { declared, found })
        }
        _ => Ok(p.packages),
    }
}

#[derive(Default)]
struct Parser {
    declared: Option<u64>,
    packages: Vec<Package>,
    pkg: Option<Builder>,
    capture: Option<Capture>,
}

#[derive(Default)]
struct Builder {
    /// 1-based position among the `<package>` elements, for messages.
    index: usize,
    ptype: Option<String>,
    name: Option<String>,
    arch: Option<String>,
    /// (epoch, ver, rel)
    evr: Option<(String, String, String)>,
    location: Option<String>,
    checksum: Option<Checksum>,
    size: Option<u64>,
}

impl Builder {
    fn context(&self) -> String {
        let mut s = format!("<package> #{}", self.index);
        if let Some(n) = &self.name {
            s.push_str(&format!(" ({n})"));
        }
        if let Some(t) = self.ptype.as_deref().filter(|t| *t != "rpm") {
            s.push_str(&format!(" of type {t:?}"));
        }
        s
    }

    fn finish(self) -> Result<Package, YumError> {
        let context = self.context();
        let missing =
            |what: &str| YumError::invalid(DOC, context.clone(), format!("missing {what}"));
        let (epoch, version, release) = self.evr.ok_or_else(|| missing("<version>"))?;
        Ok(Package {
            name: self.name.ok_or_else(|| missing("<name>"))?,
            arch: self.arch.ok_or_else(|| missing("<arch>"))?,
            epoch,
            version,
            release,
            location: self.location.ok_or_else(|| missing("<location>"))?,
            checksum: self.checksum.ok_or_else(|| missing("<checksum>"))?,
            size: self.size,
        })
    }
}

fn duplicate(context: String, element: &str) -> YumError {
    YumError::invalid(DOC, context, format!("more than one <{element}>"))
}

/// `<version epoch="E" ver="V" rel="R"/>`: ver and rel required and non-empty; epoch digits.
fn evr(attrs: &Attrs, ctx: &dyn Fn() -> String) -> Result<(String, String, String), YumError> {
    let get = |key: &str| match attrs.get(key) {
        Some(v) if !v.is_empty() => Ok(v.to_owned()),
        _ => Err(YumError::invalid(
            DOC,
            ctx(),
            format!("<version> has no (or an empty) {key} attribute"),
        )),
    };
    let epoch = match attrs.get("epoch") {
        None => "0".to_owned(),
        Some(e) if !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()) => e.to_owned(),
        Some(e) => {
            return Err(YumError::invalid(
                DOC,
                ctx(),
                format!("<version epoch={e:?}> is not a number"),
            ));
        }
    };
    Ok((epoch, get("ver")?, get("rel")?))
}

/// Text of `<name>` / `<arch>`: trimmed, non-empty.
fn word(text: &str, element: &str, ctx: &dyn Fn() -> String) -> Result<String, YumError> {
    let t = xml::trim(text);
    if t.is_empty() {
        return Err(YumError::invalid(DOC, ctx(), format!("empty <{element}>")));
    }
    Ok(t.to_owned())
}

impl Handler for Parser {
    fn start(&mut self, path: &[String], name: &str, e: &BytesStart<'_>) -> Result<(), YumError> {
        match (path.len(), name) {
            (0, _) => {
                let attrs = Attrs::read(e, DOC, &|| "<metadata>".into())?;
                if let Some(n) = attrs.get("packages") {
                    self.declared = Some(xml::parse_u64(n, "packages attribute", DOC, &|| {
                        "<metadata>".into()
                    })?);
                }
            }
            (1, "package") => {
                let index = self.packages.len() + 1;
                let attrs = Attrs::read(e, DOC, &|| format!("<package> #{index}"))?;
                self.pkg = Some(Builder {
                    index,
                    ptype: attrs.get("type").map(str::to_owned),
                    ..Default::default()
                });
            }
            (2, _) if path[1] == "package" => {
                let Some(b) = self.pkg.as_mut() else {
                    return Ok(());
                };
                match name {
                    "name" | "arch" | "checksum" => {
                        let attrs = Attrs::read(e, DOC, &|| b.context())?;
                        self.capture = Some(Capture {
                            depth: 3,
                            attrs,
                            text: String::new(),
                        });
                    }
                    "version" => {
                        let v = {
                            let ctx = || b.context();
                            evr(&Attrs::read(e, DOC, &ctx)?, &ctx)?
                        };
                        if b.evr.is_some() {
                            return Err(duplicate(b.context(), name));
                        }
                        b.evr = Some(v);
                    }
                    "size" => {
                        let v = {
                            let ctx = || b.context();
                            let attrs = Attrs::read(e, DOC, &ctx)?;
                            attrs
                                .get("package")
                                .map(|n| xml::parse_u64(n, "<size package>", DOC, &ctx))
                                .transpose()?
                        };
                        if b.size.is_some() {
                            return Err(duplicate(b.context(), name));
                        }
                        b.size = v;
                    }
                    "location" => {
                        let v = {
                            let ctx = || b.context();
                            xml::location(&Attrs::read(e, DOC, &ctx)?, DOC, &ctx)?
                        };
                        if b.location.is_some() {
                            return Err(duplicate(b.context(), name));
                        }
                        b.location = Some(v);
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
        if let Some(cap) = self.capture.take_if(|c| c.depth == depth)
            && let Some(b) = self.pkg.as_mut()
        {
            match name {
                "name" | "arch" => {
                    let v = word(&cap.text, name, &|| b.context())?;
                    let slot = if name == "name" {
                        &mut b.name
                    } else {
                        &mut b.arch
                    };
                    if slot.is_some() {
                        return Err(duplicate(b.context(), name));
                    }
                    *slot = Some(v);
                }
                "checksum" => {
                    let v = xml::checksum(&cap.attrs, &cap.text, name, DOC, &|| b.context())?;
                    if b.checksum.is_some() {
                        return Err(duplicate(b.context(), name));
                    }
                    b.checksum = Some(v);
                }
                _ => {}
            }
        }
        if depth == 2
            && name == "package"
            && let Some(b) = self.pkg.take()
        {
            self.packages.push(b.finish()?);
        }
        Ok(())
    }

    fn wants_text(&self, depth: usize) -> bool {
        self.capture.as_ref().is_some_and(|c| c.depth == depth)
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

    const SHA256: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    fn metadata(count: Option<usize>, packages: &str) -> String {
        let attr = count
            .map(|n| format!(" packages=\"{n}\""))
            .unwrap_or_default();
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<metadata xmlns=\"http://linux.duke.edu/metadata/common\" \
             xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\"{attr}>\n{packages}</metadata>\n"
        )
    }

    /// A package element with the usual createrepo_c layout; `extra` goes after <location>.
    fn package(name: &str, href: &str, extra: &str) -> String {
        format!(
            "<package type=\"rpm\">\n  <name>{name}</name>\n  <arch>x86_64</arch>\n  \
             <version epoch=\"1\" ver=\"2.0~beta\" rel=\"3.el9\"/>\n  \
             <checksum type=\"sha256\" pkgid=\"YES\">{SHA256}</checksum>\n  \
             <summary>S &amp; T</summary>\n  <size package=\"1234\" installed=\"0\" archive=\"1\"/>\n  \
             <location href=\"{href}\"/>{extra}\n  <format>\n    <rpm:license>MIT</rpm:license>\n    \
             <rpm:provides><rpm:entry name=\"evil\" flags=\"EQ\" epoch=\"0\" ver=\"1\" rel=\"1\"/></rpm:provides>\n    \
             <file>/usr/bin/x</file>\n  </format>\n</package>\n"
        )
    }

    fn parse(xml: &str) -> Result<Vec<Package>, YumError> {
        parse_primary(xml.as_bytes())
    }

    #[test]
    fn createrepo_layout() {
        let xml = metadata(
            Some(2),
            &format!(
                "{}{}",
                package(
                    "c++-libs",
                    "Packages/c/c++-libs-2.0~beta-3.el9.x86_64.rpm",
                    ""
                ),
                package("R&amp;D", "a&amp;b/&#43;&#x7E;.rpm", "")
            ),
        );
        let pkgs = parse(&xml).unwrap();
        assert_eq!(
            pkgs[0],
            Package {
                name: "c++-libs".into(),
                arch: "x86_64".into(),
                epoch: "1".into(),
                version: "2.0~beta".into(),
                release: "3.el9".into(),
                location: "Packages/c/c++-libs-2.0~beta-3.el9.x86_64.rpm".into(),
                checksum: Checksum::new(ChecksumKind::Sha256, SHA256).unwrap(),
                size: Some(1234),
            }
        );
        assert_eq!(pkgs[1].name, "R&D");
        assert_eq!(pkgs[1].location, "a&b/+~.rpm");
    }

    #[test]
    fn loose_but_valid_variants() {
        // No packages attribute, elements in another order, text split by comments/CDATA,
        // whitespace around the digest, no epoch, no <size>, a non-rpm package type, prefixes.
        let xml = format!(
            "<metadata xmlns:c=\"http://linux.duke.edu/metadata/common\">\
             <c:package type=\"srpm\"><c:location href=\"x.src.rpm\"/>\
             <c:checksum type=\"SHA256\">\n {}\n</c:checksum>\
             <c:version ver=\"1\" rel=\"2\"></c:version>\
             <c:name>fo<!-- c -->o<![CDATA[+bar]]></c:name><c:arch>src</c:arch></c:package>\
             </metadata>",
            SHA256.to_uppercase()
        );
        let pkgs = parse(&xml).unwrap();
        assert_eq!(pkgs.len(), 1);
        let p = &pkgs[0];
        assert_eq!((p.name.as_str(), p.arch.as_str()), ("foo+bar", "src"));
        assert_eq!(
            (p.epoch.as_str(), p.version.as_str(), p.release.as_str()),
            ("0", "1", "2")
        );
        assert_eq!(p.checksum.hex, SHA256);
        assert_eq!(p.size, None);
        assert_eq!(parse("<metadata packages=\"0\"/>").unwrap(), vec![]);
        assert_eq!(parse(&metadata(Some(0), "")).unwrap(), vec![]);
        assert_eq!(parse(&metadata(None, "")).unwrap(), vec![]);
    }

    #[test]
    fn nested_elements_do_not_leak_into_the_package() {
        let xml = metadata(
            Some(1),
            &package(
                "real",
                "real.rpm",
                "<format><name>fake</name><location href=\"../fake\"/>\
                 <checksum type=\"md5\">x</checksum></format>",
            ),
        );
        let pkgs = parse(&xml).unwrap();
        assert_eq!(
            (pkgs[0].name.as_str(), pkgs[0].location.as_str()),
            ("real", "real.rpm")
        );
    }

    #[test]
    fn count_mismatch() {
        let two = format!("{}{}", package("a", "a.rpm", ""), package("b", "b.rpm", ""));
        for n in [0, 1, 3, 100] {
            match parse(&metadata(Some(n), &two)) {
                Err(YumError::PackageCountMismatch { declared, found: 2 }) => {
                    assert_eq!(declared, n as u64)
                }
                other => panic!("{n}: {other:?}"),
            }
        }
        for bad in ["-1", "+2", "2 3", "", "two", "18446744073709551616"] {
            let xml = metadata(None, &two)
                .replace("<metadata ", &format!("<metadata packages=\"{bad}\" "));
            let e = parse(&xml).unwrap_err();
            assert!(e.to_string().contains("packages attribute"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn location_errors_name_package_and_href() {
        let e = parse(&metadata(
            Some(1),
            &package("foo", "Packages/foo.rpm", "").replace(
                "<location href",
                "<location xml:base=\"https://cdn.example/os/\" href",
            ),
        ))
        .unwrap_err();
        match &e {
            YumError::RemoteLocation {
                document,
                href,
                base,
            } => {
                assert_eq!(*document, "primary.xml");
                assert_eq!(href, "Packages/foo.rpm");
                assert_eq!(base, "https://cdn.example/os/");
            }
            other => panic!("{other:?}"),
        }
        for href in [
            "../foo.rpm",
            "/srv/foo.rpm",
            "./foo.rpm",
            "a\\foo.rpm",
            "a/",
            "",
        ] {
            match parse(&metadata(Some(1), &package("foo", href, ""))) {
                Err(YumError::BadPath { path, reason }) => {
                    assert_eq!(path, href);
                    assert!(reason.contains("<package> #1 (foo)"), "{reason}");
                }
                other => panic!("{href:?}: {other:?}"),
            }
        }
        let e = parse(&metadata(Some(1), &package("foo", "a&nbsp;b.rpm", ""))).unwrap_err();
        assert!(e.to_string().contains("unrecognized entity"), "{e}");
    }

    #[test]
    fn field_errors() {
        let good = package("foo", "foo.rpm", "");
        let cases: Vec<(String, &str)> = vec![
            (good.replace("<name>foo</name>", ""), "missing <name>"),
            (
                good.replace("<name>foo</name>", "<name> </name>"),
                "empty <name>",
            ),
            (good.replace("<arch>x86_64</arch>", ""), "missing <arch>"),
            (
                good.replace("<location href=\"foo.rpm\"/>", ""),
                "missing <location>",
            ),
            (
                good.replace("pkgid=\"YES\"", "")
                    .replace(SHA256, "")
                    .replace("<checksum type=\"sha256\" >", "")
                    .replace("</checksum>", ""),
                "missing <checksum>",
            ),
            (
                good.replace("epoch=\"1\"", "epoch=\"x\""),
                "is not a number",
            ),
            (good.replace("ver=\"2.0~beta\"", ""), "ver attribute"),
            (good.replace("rel=\"3.el9\"", "rel=\"\""), "rel attribute"),
            (
                good.replace("package=\"1234\"", "package=\"12x\""),
                "<size package>",
            ),
            (
                good.replace("package=\"1234\"", "package=\"99999999999999999999999\""),
                "<size package>",
            ),
            (
                good.replace(
                    "<arch>x86_64</arch>",
                    "<arch>x86_64</arch><arch>i686</arch>",
                ),
                "more than one <arch>",
            ),
            (
                good.replace(
                    "<location href=\"foo.rpm\"/>",
                    "<location href=\"foo.rpm\"/><location href=\"bar.rpm\"/>",
                ),
                "more than one <location>",
            ),
            (
                good.replace("<checksum type=\"sha256\"", "<checksum"),
                "no type attribute",
            ),
        ];
        for (pkg, needle) in cases {
            let e = parse(&metadata(Some(1), &pkg)).unwrap_err();
            let msg = e.to_string();
            assert!(msg.starts_with("primary.xml: <package> #1"), "{msg}");
            assert!(msg.contains(needle), "{needle}: {msg}");
        }
        let md5 = good.replace("type=\"sha256\"", "type=\"md5\"");
        assert!(matches!(
            parse(&metadata(Some(1), &md5)),
            Err(YumError::UnsupportedChecksum(t)) if t == "md5"
        ));
        let short = good.replace(SHA256, &SHA256[2..]);
        match parse(&metadata(Some(1), &short)) {
            Err(e @ YumError::BadChecksum { .. }) => {
                assert!(e.to_string().contains("62 hex digits, expected 64"), "{e}");
                assert!(e.to_string().contains("<package> #1 (foo)"), "{e}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn malformed_documents() {
        let good = metadata(Some(1), &package("foo", "foo.rpm", ""));
        for cut in (0..good.len()).step_by(5) {
            assert!(parse(&good[..cut]).is_err(), "cut at {cut}");
        }
        for xml in [
            "",
            "<repomd/>",
            "<metadata><package></metadata>",
            "<metadata/><metadata/>",
            "<metadata packages=\"1\"><package><name>a</name></package>",
            "<metadata><package><name>a</name></nope></package></metadata>",
            "<metadata><package><name>a</package></metadata>",
            "<metadata><package><name>&#0;</name></package></metadata>",
            "<metadata><package><name>&#xFFFFFFFF;</name></package></metadata>",
        ] {
            assert!(parse(xml).is_err(), "{xml}");
        }
        assert!(
            parse_primary(&b"<metadata><package><name>\xc3\x28</name></package></metadata>"[..])
                .is_err()
        );
        for xml in [
            "<metadata/>junk",
            "junk<metadata/>",
            "<metadata/>&amp;",
            "<metadata/><![CDATA[x]]>",
        ] {
            let e = parse(xml).unwrap_err();
            assert!(
                e.to_string().contains("outside the root element"),
                "{xml}: {e}"
            );
        }
        // Whitespace, comments and processing instructions around the root are fine.
        assert!(parse("\n<!-- c --><?pi x?>\n<metadata/>\n<!-- c -->\n").is_ok());
        let long = format!(
            "<metadata><package><name>{}</name></package></metadata>",
            "a".repeat(70_000)
        );
        let e = parse(&long).unwrap_err();
        assert!(e.to_string().contains("longer than 65536 bytes"), "{e}");
        let deep = format!(
            "<metadata>{}{}</metadata>",
            "<a>".repeat(300),
            "</a>".repeat(300)
        );
        let e = parse(&deep).unwrap_err();
        assert!(e.to_string().contains("nested more than 256"), "{e}");
        let ok = format!(
            "<metadata>{}{}</metadata>",
            "<a>".repeat(200),
            "</a>".repeat(200)
        );
        assert!(parse(&ok).is_ok());
    }

    #[test]
    fn many_packages_stream() {
        const N: usize = 5000;
        let body: String = (0..N)
            .map(|i| package(&format!("p{i}"), &format!("p/{i}.rpm"), ""))
            .collect();
        let xml = metadata(Some(N), &body);
        // A reader that returns tiny chunks, so events straddle buffer boundaries.
        let reader = std::io::BufReader::with_capacity(7, xml.as_bytes());
        let pkgs = parse_primary(reader).unwrap();
        assert_eq!(pkgs.len(), N);
        assert_eq!(pkgs[N - 1].location, format!("p/{}.rpm", N - 1));
    }
}
