//! `ferry catalog from-repofile`: a catalog from a dnf `.repo` file.
//!
//! The file is read as dnf reads it: `[section]` headers, `key=value` lines, `#` and `;`
//! comment lines, and lines starting with white space continuing the previous value.
//! `$name` and `${name}` are expanded from `--basearch`, `--releasever` and `--var`.

use std::collections::BTreeMap;
use std::path::Path;

use super::{Doc, GenError, Labels, Product, Repo, RepoGroup, Value};

/// What `from-repofile` needs besides the file.
#[derive(Debug, Clone)]
pub struct Options {
    /// The organization label.
    pub organization: String,
    /// `$basearch`.
    pub basearch: Option<String>,
    /// `$releasever` (and from it `$releasever_major`, `$releasever_minor`).
    pub releasever: Option<String>,
    /// Other variables.
    pub vars: Vec<(String, String)>,
    /// How sections become products.
    pub group: RepoGroup,
}

/// One `[section]` of a `.repo` file.
#[derive(Debug)]
struct Section {
    id: String,
    line: usize,
    /// key (lower case) → (value, line)
    keys: BTreeMap<String, (String, usize)>,
}

/// Keys ferry has no use for and that need no comment.
const QUIET_KEYS: &[&str] = &[
    "name",
    "enabled",
    "gpgcheck",
    "repo_gpgcheck",
    "metadata_expire",
    "skip_if_unavailable",
    "priority",
    "cost",
    "countme",
    "enabled_metadata",
    "autorefresh",
    "type",
];

/// Keys this module reads.
const USED_KEYS: &[&str] = &[
    "baseurl",
    "mirrorlist",
    "metalink",
    "gpgkey",
    "sslcacert",
    "sslclientcert",
    "sslclientkey",
    "sslverify",
    "username",
    "password",
];

/// Read `file` into its sections.
fn parse_ini(file: &Path, text: &str) -> Result<Vec<Section>, GenError> {
    let mut sections: Vec<Section> = Vec::new();
    let mut last_key: Option<String> = None;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let err = |message: String| GenError::Line {
            file: file.to_path_buf(),
            line,
            message,
        };
        let t = raw.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
            continue;
        }
        if raw.starts_with(char::is_whitespace)
            && let (Some(k), Some(s)) = (&last_key, sections.last_mut())
            && let Some((v, _)) = s.keys.get_mut(k)
        {
            v.push(' ');
            v.push_str(t);
            continue;
        }
        last_key = None;
        if let Some(inner) = t.strip_prefix('[') {
            let id = inner
                .strip_suffix(']')
                .map(str::trim)
                .filter(|id| !id.is_empty())
                .ok_or_else(|| err(format!("{t:?} is not a [section] header")))?;
            if let Some(s) = sections.iter().find(|s| s.id == id) {
                return Err(err(format!(
                    "section [{id}] again (it starts on line {} too)",
                    s.line
                )));
            }
            sections.push(Section {
                id: id.to_string(),
                line,
                keys: BTreeMap::new(),
            });
        } else if let Some((k, v)) = t.split_once('=') {
            let k = k.trim().to_ascii_lowercase();
            if k.is_empty() {
                return Err(err("a value without a key (nothing before '=')".into()));
            }
            let s = sections
                .last_mut()
                .ok_or_else(|| err(format!("{k}= before the first [section]")))?;
            s.keys.insert(k.clone(), (v.trim().to_string(), line));
            last_key = Some(k);
        } else {
            return Err(err(
                "expected a [section] header, key=value or a comment".into()
            ));
        }
    }
    Ok(sections)
}

/// Whether `s` can be a dnf variable's name.
pub fn is_var_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// `s` with `$name` and `${name}` replaced from `vars`; unknown variables stay as they
/// are, and the first one is returned too.
fn expand(s: &str, vars: &BTreeMap<String, String>) -> (String, Option<String>) {
    let mut out = String::new();
    let mut unknown = None;
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, len) = match after.strip_prefix('{') {
            Some(b) => match b.find('}') {
                Some(j) if is_var_name(&b[..j]) => (&b[..j], j + 2),
                _ => ("", 0),
            },
            None => {
                let j = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                (&after[..j], j)
            }
        };
        match vars.get(name) {
            Some(v) => out.push_str(v),
            None => {
                if unknown.is_none() {
                    unknown = Some(if name.is_empty() {
                        "$".to_string()
                    } else {
                        format!("${name}")
                    });
                }
                out.push('$');
                out.push_str(&after[..len]);
            }
        }
        rest = &after[len..];
    }
    out.push_str(rest);
    (out, unknown)
}

/// A yum boolean.
fn yum_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "yes" | "true" | "on" => Some(true),
        "0" | "no" | "false" | "off" => Some(false),
        _ => None,
    }
}

/// The items of a list value (baseurl, gpgkey): separated by white space or commas.
fn list(v: &str) -> Vec<&str> {
    v.split(|c: char| c.is_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
        .collect()
}

/// A URL without its `user:password@`: (URL, user, whether it held a password).
fn strip_userinfo(url: &str) -> (String, Option<String>, bool) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_string(), None, false);
    };
    let host_end = rest.find('/').unwrap_or(rest.len());
    match rest[..host_end].rfind('@') {
        None => (url.to_string(), None, false),
        Some(at) => {
            let info = &rest[..at];
            let (user, password) = match info.split_once(':') {
                Some((u, _)) => (u, true),
                None => (info, false),
            };
            let user = percent_encoding::percent_decode_str(user)
                .decode_utf8_lossy()
                .into_owned();
            (
                format!("{scheme}://{}", &rest[at + 1..]),
                Some(user).filter(|u| !u.is_empty()),
                password,
            )
        }
    }
}

/// Where a section's GPG key is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Key {
    /// A local file (from `file:///PATH` or `/PATH`).
    File(String),
    /// An http(s) URL.
    Remote(String),
    /// Anything else, as written.
    Other(String),
}

impl Key {
    fn text(&self) -> &str {
        match self {
            Key::File(s) | Key::Remote(s) | Key::Other(s) => s,
        }
    }

    /// The key file's name (the last part of its path or URL).
    fn file_name(&self) -> &str {
        let t = self.text().trim_end_matches('/');
        t.rsplit('/').next().unwrap_or(t)
    }

    /// A product label from the key file's name: RPM-GPG-KEY-redhat-release → redhat-release.
    fn label(&self) -> String {
        let n = self.file_name();
        let short = match n.get(..12) {
            Some(p) if p.eq_ignore_ascii_case("RPM-GPG-KEY-") && n.len() > 12 => &n[12..],
            _ => n,
        };
        super::to_label(short, "signed")
    }
}

/// An enabled section, ready to write.
#[derive(Debug)]
struct Entry {
    repo: Repo,
    key: Option<Key>,
    /// Notes about the key, for its product.
    key_notes: Vec<String>,
}

/// The values given for variables.
fn variables(opts: &Options) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    if let Some(a) = &opts.basearch {
        vars.insert("basearch".to_string(), a.clone());
    }
    if let Some(r) = &opts.releasever {
        vars.insert("releasever".to_string(), r.clone());
        let (major, minor) = r.split_once('.').unwrap_or((r, ""));
        vars.insert("releasever_major".to_string(), major.to_string());
        vars.insert("releasever_minor".to_string(), minor.to_string());
    }
    for (n, v) in &opts.vars {
        vars.insert(n.clone(), v.clone());
    }
    vars
}

/// The environment variable that holds a section's password.
fn password_env(id: &str) -> String {
    let s: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("FERRY_PASSWORD_{s}")
}

/// A section made into a repository, or why it is left out.
fn entry(
    file: &Path,
    s: &Section,
    vars: &BTreeMap<String, String>,
) -> Result<Result<Entry, String>, GenError> {
    let get = |k: &str| s.keys.get(k).map(|(v, l)| (v.as_str(), *l));
    let err = |line: usize, message: String| GenError::Line {
        file: file.to_path_buf(),
        line,
        message,
    };
    // A value with every variable expanded.
    let strict = |key: &str, v: &str, line: usize| -> Result<String, GenError> {
        match expand(v, vars) {
            (x, None) => Ok(x),
            (_, Some(var)) if var == "$" => Err(err(
                line,
                format!("[{}] {key} has a '$' that starts no variable's name", s.id),
            )),
            (_, Some(var)) => Err(GenError::UnsetVariable {
                file: file.to_path_buf(),
                line,
                section: s.id.clone(),
                key: key.to_string(),
                var,
            }),
        }
    };
    let bool_of = |key: &str| -> Result<Option<bool>, GenError> {
        match get(key) {
            None => Ok(None),
            Some((v, l)) => yum_bool(v).map(Some).ok_or_else(|| {
                err(
                    l,
                    format!(
                        "[{}] {key}={v}: expected 1/0, yes/no, true/false or on/off",
                        s.id
                    ),
                )
            }),
        }
    };

    if s.id.eq_ignore_ascii_case("main") {
        return Ok(Err("[main] holds dnf options, not a repository".into()));
    }
    if bool_of("enabled")? == Some(false) {
        let v = get("enabled").map_or("0", |(v, _)| v);
        return Ok(Err(format!("disabled (enabled={v})")));
    }
    let mirrors: Vec<&str> = ["mirrorlist", "metalink"]
        .into_iter()
        .filter(|k| get(k).is_some_and(|(v, _)| !v.is_empty()))
        .collect();
    let Some((baseurl, url_line)) = get("baseurl").filter(|(v, _)| !list(v).is_empty()) else {
        return Ok(Err(if mirrors.is_empty() {
            "no baseurl".to_string()
        } else {
            format!(
                "only a {}, which ferry does not read: add baseurl=URL (one mirror's) to the section",
                mirrors.join(" and a ")
            )
        }));
    };

    let mut notes = vec![format!(
        "[{}] from {} line {}",
        s.id,
        file.display(),
        s.line
    )];
    let urls = list(baseurl);
    let (url, url_user, url_password) = strip_userinfo(&strict("baseurl", urls[0], url_line)?);
    if urls.len() > 1 {
        let others: Vec<String> = urls[1..]
            .iter()
            .map(|u| strip_userinfo(&expand(u, vars).0).0)
            .collect();
        notes.push(format!(
            "baseurl lists {} URLs; ferry uses the first (the others: {})",
            urls.len(),
            others.join(" ")
        ));
    }
    if !mirrors.is_empty() {
        notes.push(format!(
            "{} not used: ferry reads the baseurl",
            mirrors.join(" and ")
        ));
    }
    let mut fields = Vec::new();
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        fields.push(("url", Value::Str(url)));
    } else if let Some(p) = lower.starts_with("file://").then(|| &url[7..]) {
        if !p.starts_with('/') {
            return Ok(Err(format!(
                "baseurl {url} names a host: give file:///PATH"
            )));
        }
        let p = percent_encoding::percent_decode_str(p)
            .decode_utf8_lossy()
            .into_owned();
        fields.push(("path", Value::Str(p)));
    } else {
        return Ok(Err(format!(
            "baseurl {url}: ferry reads http://, https:// and file:// URLs only"
        )));
    }

    let mut cert = None;
    for k in ["sslcacert", "sslclientcert", "sslclientkey"] {
        let v = match get(k).filter(|(v, _)| !v.is_empty()) {
            Some((v, l)) => Some(strict(k, v, l)?),
            // Without sslclientkey, dnf (curl) reads the key from the certificate's file.
            None if k == "sslclientkey" && cert.is_some() => {
                notes.push("no sslclientkey: dnf reads the key from the sslclientcert file".into());
                cert.clone()
            }
            None => None,
        };
        if k == "sslclientcert" {
            cert.clone_from(&v);
        }
        if let Some(v) = v {
            fields.push((k, Value::Str(v)));
        }
    }
    if bool_of("sslverify")? == Some(false) {
        fields.push(("sslverify", Value::Bool(false)));
        notes.push("sslverify is off: the server's certificate will not be checked".into());
    }
    let user = get("username")
        .map(|(v, _)| v.to_string())
        .filter(|v| !v.is_empty())
        .or(url_user);
    let password = url_password || get("password").is_some_and(|(v, _)| !v.is_empty());
    if password && user.is_none() {
        notes.push(
            "the .repo file holds a password but no username, so dnf does not log in: \
             neither does this catalog"
                .into(),
        );
    }
    if let Some(u) = user {
        fields.push(("username", Value::Str(u)));
        if password {
            let env = password_env(&s.id);
            notes.push(format!(
                "the .repo file holds a password for this section; it is not copied here: \
             set {env} to it before ferry pack"
            ));
            fields.push(("password_env", Value::Str(env)));
        }
    }

    let mut key_notes = Vec::new();
    let key = match get("gpgkey").map(|(v, l)| (list(v), l)) {
        Some((keys, l)) if !keys.is_empty() => {
            let k = strict("gpgkey", keys[0], l)?;
            if keys.len() > 1 {
                key_notes.push(format!(
                    "[{}] lists {} gpgkeys; a product has one: ferry uses the first, {k}",
                    s.id,
                    keys.len(),
                ));
            }
            let lk = k.to_ascii_lowercase();
            Some(if lk.starts_with("file:///") {
                Key::File(
                    percent_encoding::percent_decode_str(&k[7..])
                        .decode_utf8_lossy()
                        .into_owned(),
                )
            } else if k.starts_with('/') {
                Key::File(k)
            } else if lk.starts_with("http://") || lk.starts_with("https://") {
                Key::Remote(strip_userinfo(&k).0)
            } else {
                Key::Other(k)
            })
        }
        _ => None,
    };

    let unused: Vec<&str> = s
        .keys
        .keys()
        .map(String::as_str)
        .filter(|k| !QUIET_KEYS.contains(k) && !USED_KEYS.contains(k))
        .collect();
    if !unused.is_empty() {
        notes.push(format!(
            "not carried over (ferry has no such setting): {}",
            unused.join(", ")
        ));
    }
    let name = get("name").map_or(String::new(), |(v, _)| expand(v, vars).0);
    Ok(Ok(Entry {
        repo: Repo {
            notes,
            label: s.id.clone(),
            name: super::to_name(&name, &s.id),
            fields,
        },
        key,
        key_notes,
    }))
}

/// Write the catalog for the `.repo` file `file`.
pub fn generate(file: &Path, opts: &Options) -> Result<String, GenError> {
    super::check_organization(&opts.organization)?;
    let text = std::fs::read_to_string(file).map_err(|error| GenError::Io {
        path: file.to_path_buf(),
        error,
    })?;
    generate_text(file, &text, opts)
}

/// The grouping rule's name and what it does, for the header.
fn rule(g: RepoGroup) -> (&'static str, &'static str) {
    match g {
        RepoGroup::Gpgkey => (
            "gpgkey",
            "sections with the same gpgkey form one product, labelled after the key file's \
             name without RPM-GPG-KEY-; sections without a gpgkey form the product \"unsigned\".",
        ),
        RepoGroup::File => (
            "file",
            "one product for the whole file, labelled after the file's name without .repo.",
        ),
        RepoGroup::Section => (
            "section",
            "one product per section, labelled as the section.",
        ),
    }
}

fn generate_text(file: &Path, text: &str, opts: &Options) -> Result<String, GenError> {
    let vars = variables(opts);
    let mut entries = Vec::new();
    let mut skipped = Vec::new();
    for s in parse_ini(file, text)? {
        match entry(file, &s, &vars)? {
            Ok(e) => entries.push(e),
            Err(why) => skipped.push(format!("[{}] (line {}): {why}", s.id, s.line)),
        }
    }
    if entries.is_empty() {
        return Err(GenError::Empty {
            path: file.to_path_buf(),
            message: if skipped.is_empty() {
                "no [section] in the file: nothing to write".into()
            } else {
                format!("no section to write: {}", skipped.join("; "))
            },
        });
    }
    let mut labels = Labels::default();
    for e in &mut entries {
        e.repo.label = labels.unique(&super::to_label(&e.repo.label, "repo"));
    }

    let file_name = file.file_name().map_or_else(
        || file.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let stem = file
        .file_stem()
        .map_or(String::new(), |s| s.to_string_lossy().into_owned());
    let groups: Vec<Vec<Entry>> = match opts.group {
        RepoGroup::Gpgkey => {
            let mut g: Vec<(Option<Key>, Vec<Entry>)> = Vec::new();
            for e in entries {
                match g.iter_mut().find(|(k, _)| *k == e.key) {
                    Some((_, v)) => v.push(e),
                    None => g.push((e.key.clone(), vec![e])),
                }
            }
            g.into_iter().map(|(_, v)| v).collect()
        }
        RepoGroup::File => vec![entries],
        RepoGroup::Section => entries.into_iter().map(|e| vec![e]).collect(),
    };
    let mut product_labels = Labels::default();
    let products = groups
        .into_iter()
        .map(|g| product(g, opts.group, &stem, &file_name, &mut product_labels))
        .collect();

    let (rule_name, rule_text) = rule(opts.group);
    let given: Vec<String> = vars.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut header = vec![
        format!(
            "Written by `ferry catalog from-repofile` from {}.",
            file.display()
        ),
        format!(
            "Variables: {}.",
            if given.is_empty() {
                "none given".to_string()
            } else {
                given.join(", ")
            }
        ),
        format!("Products (--group {rule_name}): {rule_text}"),
        "Other rules: --group gpgkey, file or section (ferry catalog from-repofile --help).".into(),
        "Review before ferry pack: labels and names, each product's gpg_key, and the notes".into(),
        "above each product and repository.".into(),
    ];
    if !skipped.is_empty() {
        header.push("Left out:".into());
        header.extend(skipped.into_iter().map(|s| format!("  {s}")));
    }
    Ok(Doc {
        header,
        organization: opts.organization.clone(),
        products,
    }
    .render())
}

/// The product for a group of sections.
fn product(
    entries: Vec<Entry>,
    group: RepoGroup,
    file_stem: &str,
    file_name: &str,
    labels: &mut Labels,
) -> Product {
    let mut keys: Vec<&Option<Key>> = Vec::new();
    for e in &entries {
        if !keys.contains(&&e.key) {
            keys.push(&e.key);
        }
    }
    let first = &entries[0];
    let (label, name) = match group {
        RepoGroup::Gpgkey => match &first.key {
            Some(k) => (
                k.label(),
                format!("Signed with {} (from {file_name})", k.file_name()),
            ),
            None => (
                "unsigned".to_string(),
                format!("Without a GPG key (from {file_name})"),
            ),
        },
        RepoGroup::File => (
            super::to_label(file_stem, "repofile"),
            format!("From {file_name}"),
        ),
        RepoGroup::Section => (first.repo.label.clone(), first.repo.name.clone()),
    };
    let mut notes = Vec::new();
    let mut gpg_key = None;
    match keys.as_slice() {
        [Some(Key::File(p))] => {
            if !Path::new(p).is_file() {
                notes.push(format!(
                    "gpg_key {p} is not on this machine: put the key there (or change the path) before ferry pack"
                ));
            }
            gpg_key = Some(p.clone());
        }
        [Some(k @ Key::Remote(u))] => {
            notes.push(format!(
                "the gpgkey is {u}: download it, check its fingerprint, and set gpg_key to the file, e.g."
            ));
            notes.push(format!(
                "gpg_key = {}",
                crate::format::toml_out::string(k.file_name())
            ));
        }
        [Some(Key::Other(k))] => notes.push(format!(
            "gpgkey {k} is neither file:///PATH nor http(s): set gpg_key to the key file"
        )),
        [None] => notes.push(
            "no gpgkey in the .repo file: set gpg_key if the packages are signed".to_string(),
        ),
        _ => {
            let all: Vec<&str> = keys
                .iter()
                .map(|k| k.as_ref().map_or("none", Key::text))
                .collect();
            notes.push(format!(
                "its sections have different gpgkeys ({}): set gpg_key to the key that signs them all, or use --group gpgkey",
                all.join(", ")
            ));
        }
    }
    notes.extend(entries.iter().flat_map(|e| e.key_notes.iter().cloned()));
    Product {
        notes,
        name: super::to_name(&name, &label),
        label: labels.unique(&label),
        gpg_key,
        repositories: entries.into_iter().map(|e| e.repo).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(group: RepoGroup) -> Options {
        Options {
            organization: "acme".into(),
            basearch: Some("x86_64".into()),
            releasever: Some("9.4".into()),
            vars: vec![("contentdir".into(), "centos".into())],
            group,
        }
    }

    fn vars() -> BTreeMap<String, String> {
        variables(&opts(RepoGroup::Gpgkey))
    }

    const SAMPLE: &str = "\
# a comment
; another
[rhel-baseos]
name = RHEL $releasever BaseOS ($basearch)
baseurl = https://cdn.example.com/rhel/$releasever_major/$basearch/baseos
  https://mirror.example.com/rhel/${releasever}/${basearch}/baseos,
enabled = 1
gpgkey = file:///etc/pki/rpm-gpg/RPM-GPG-KEY-redhat-release
sslcacert = /etc/rhsm/ca/redhat-uep.pem
sslclientcert = /etc/pki/entitlement/123.pem
sslclientkey = /etc/pki/entitlement/123-key.pem
sslverify = on
username = alice
password = hunter2-secret
proxy_password = proxy-secret

[rhel-appstream]
name = RHEL $releasever AppStream
baseurl = https://cdn.example.com/rhel/$releasever/$basearch/appstream
gpgkey = file:///etc/pki/rpm-gpg/RPM-GPG-KEY-redhat-release
sslverify = no

[rhel-debug]
name = debug
baseurl = https://cdn.example.com/rhel/$releasever/$basearch/debug
enabled = 0

[epel]
name = EPEL $releasever
metalink = https://mirrors.fedoraproject.org/metalink?repo=epel-$releasever&arch=$basearch

[local:stuff]
name = Local stuff
baseurl = file:///srv/repos/local%20stuff
[vendor]
name = Vendor
baseurl = https://bob:pw-in-url@vendor.example.com/$contentdir/repo
gpgkey = https://vendor.example.com/RPM-GPG-KEY-vendor
";

    fn sample(group: RepoGroup) -> String {
        generate_text(
            Path::new("/etc/yum.repos.d/rhel.repo"),
            SAMPLE,
            &opts(group),
        )
        .unwrap()
    }

    #[test]
    fn ini_sections_keys_comments_and_continuations() {
        let s = parse_ini(Path::new("f.repo"), SAMPLE).unwrap();
        let ids: Vec<&str> = s.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "rhel-baseos",
                "rhel-appstream",
                "rhel-debug",
                "epel",
                "local:stuff",
                "vendor"
            ]
        );
        assert_eq!(s[0].line, 3);
        assert_eq!(
            s[0].keys["baseurl"],
            (
                "https://cdn.example.com/rhel/$releasever_major/$basearch/baseos \
                 https://mirror.example.com/rhel/${releasever}/${basearch}/baseos,"
                    .to_string(),
                5
            )
        );
        assert_eq!(s[0].keys["name"].0, "RHEL $releasever BaseOS ($basearch)");
    }

    #[test]
    fn ini_errors_name_the_file_and_line() {
        for (text, line, what) in [
            ("name=x\n", 1, "before the first [section]"),
            ("[a]\nname=x\n[b\n", 3, "not a [section] header"),
            ("[a]\n\njust words\n", 3, "expected a [section]"),
            ("[a]\n[b]\n[a]\n", 3, "section [a] again"),
            ("[a]\n=x\n", 2, "without a key"),
        ] {
            let e = parse_ini(Path::new("/d/f.repo"), text).unwrap_err();
            let msg = e.to_string();
            assert!(
                msg.starts_with(&format!("/d/f.repo:{line}: ")) && msg.contains(what),
                "{text:?}: {msg}"
            );
        }
    }

    #[test]
    fn variables_expand_in_both_forms() {
        let v = vars();
        assert_eq!(
            expand(
                "a/$basearch/${releasever}/$releasever_major.$releasever_minor/$contentdir",
                &v
            ),
            ("a/x86_64/9.4/9.4/centos".to_string(), None)
        );
        assert_eq!(expand("$basearchx/$x", &v).1.as_deref(), Some("$basearchx"));
        assert_eq!(
            expand("a/${nope}/$basearch", &v),
            ("a/${nope}/x86_64".to_string(), Some("$nope".to_string()))
        );
        assert_eq!(expand("a$/b", &v).1.as_deref(), Some("$"));
        assert_eq!(expand("${un closed", &v).0, "${un closed");
        assert_eq!(expand("no vars", &v), ("no vars".to_string(), None));
    }

    #[test]
    fn an_unexpanded_variable_is_an_error_naming_section_line_and_variable() {
        let mut o = opts(RepoGroup::Gpgkey);
        o.basearch = None;
        let e = generate_text(Path::new("/x/a.repo"), SAMPLE, &o).unwrap_err();
        assert_eq!(
            e.to_string(),
            "/x/a.repo:5: [rhel-baseos] baseurl uses $basearch, which has no value"
        );
        let text = "[s]\nbaseurl=https://h/$stream/os\n";
        let e = generate_text(Path::new("b.repo"), text, &o).unwrap_err();
        assert!(
            e.to_string().contains("b.repo:2: [s] baseurl uses $stream"),
            "{e}"
        );
        match e {
            GenError::UnsetVariable { var, .. } => assert_eq!(var, "$stream"),
            other => panic!("{other:?}"),
        }
        let text = "[s]\nbaseurl=https://h/os\nsslcacert=/etc/$dir/ca.pem\n";
        let e = generate_text(Path::new("b.repo"), text, &o).unwrap_err();
        assert!(
            e.to_string().contains("b.repo:3: [s] sslcacert uses $dir"),
            "{e}"
        );
        // A disabled section is not looked at.
        let text = "[s]\nbaseurl=https://h/os\n[t]\nenabled=0\nbaseurl=https://h/$nope\n";
        generate_text(Path::new("b.repo"), text, &o).unwrap();
    }

    #[test]
    fn the_password_is_never_copied() {
        for g in [RepoGroup::Gpgkey, RepoGroup::File, RepoGroup::Section] {
            let out = sample(g);
            for secret in ["hunter2", "proxy-secret", "pw-in-url"] {
                assert!(!out.contains(secret), "{secret} in:\n{out}");
            }
            assert!(
                out.contains("password_env = \"FERRY_PASSWORD_RHEL_BASEOS\""),
                "{out}"
            );
            assert!(
                out.contains("password_env = \"FERRY_PASSWORD_VENDOR\""),
                "{out}"
            );
            assert!(
                out.contains("set FERRY_PASSWORD_RHEL_BASEOS to it"),
                "{out}"
            );
            assert!(out.contains("username = \"bob\""), "{out}");
            assert!(
                out.contains("url = \"https://vendor.example.com/centos/repo\""),
                "{out}"
            );
            assert!(out.contains("not carried over (ferry has no such setting): proxy_password"));
        }
    }

    #[test]
    fn sections_become_repositories_with_their_options() {
        let out = sample(RepoGroup::Gpgkey);
        let doc: toml::Table = toml::from_str(&out).unwrap();
        let products = doc["product"].as_array().unwrap();
        let repo = |p: usize, r: usize| &products[p]["repository"][r];
        let base = repo(0, 0);
        assert_eq!(base["label"].as_str(), Some("rhel-baseos"));
        assert_eq!(base["name"].as_str(), Some("RHEL 9.4 BaseOS (x86_64)"));
        assert_eq!(
            base["url"].as_str(),
            Some("https://cdn.example.com/rhel/9/x86_64/baseos")
        );
        assert_eq!(
            base["sslcacert"].as_str(),
            Some("/etc/rhsm/ca/redhat-uep.pem")
        );
        assert_eq!(
            base["sslclientcert"].as_str(),
            Some("/etc/pki/entitlement/123.pem")
        );
        assert_eq!(
            base["sslclientkey"].as_str(),
            Some("/etc/pki/entitlement/123-key.pem")
        );
        assert_eq!(base["username"].as_str(), Some("alice"));
        assert!(base.get("sslverify").is_none());
        assert!(base.get("password").is_none());
        assert!(out.contains(
            "baseurl lists 2 URLs; ferry uses the first (the others: https://mirror.example.com/rhel/9.4/x86_64/baseos)"
        ));
        assert_eq!(repo(0, 1)["sslverify"].as_bool(), Some(false));
        // file:// becomes a path; the label is made from the section id.
        let local = repo(1, 0);
        assert_eq!(local["label"].as_str(), Some("local-stuff"));
        assert_eq!(local["path"].as_str(), Some("/srv/repos/local stuff"));
        assert!(local.get("url").is_none());
        // Left out, and said why.
        assert!(!out.contains("label = \"rhel-debug\""));
        assert!(
            out.contains("#   [rhel-debug] (line 23): disabled (enabled=0)"),
            "{out}"
        );
        assert!(!out.contains("label = \"epel\""));
        assert!(
            out.contains("#   [epel] (line 28): only a metalink"),
            "{out}"
        );
        assert!(out.contains("# Variables: basearch=x86_64, contentdir=centos, releasever=9.4"));
    }

    #[test]
    fn grouping_by_gpgkey() {
        let out = sample(RepoGroup::Gpgkey);
        let doc: toml::Table = toml::from_str(&out).unwrap();
        let p = doc["product"].as_array().unwrap();
        let labels: Vec<&str> = p.iter().map(|p| p["label"].as_str().unwrap()).collect();
        assert_eq!(labels, ["redhat-release", "unsigned", "vendor"]);
        assert_eq!(
            p[0]["gpg_key"].as_str(),
            Some("/etc/pki/rpm-gpg/RPM-GPG-KEY-redhat-release")
        );
        assert_eq!(p[0]["repository"].as_array().unwrap().len(), 2);
        assert!(p[1].get("gpg_key").is_none());
        assert!(p[2].get("gpg_key").is_none());
        assert!(out.contains(
            "# the gpgkey is https://vendor.example.com/RPM-GPG-KEY-vendor: download it"
        ));
        assert!(out.contains("# gpg_key = \"RPM-GPG-KEY-vendor\""));
        assert!(out.contains("# Products (--group gpgkey): sections with the same gpgkey"));
    }

    #[test]
    fn grouping_by_file_and_by_section() {
        let doc: toml::Table = toml::from_str(&sample(RepoGroup::File)).unwrap();
        let p = doc["product"].as_array().unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0]["label"].as_str(), Some("rhel"));
        assert_eq!(p[0]["name"].as_str(), Some("From rhel.repo"));
        assert_eq!(p[0]["repository"].as_array().unwrap().len(), 4);
        assert!(p[0].get("gpg_key").is_none());

        let out = sample(RepoGroup::Section);
        let doc: toml::Table = toml::from_str(&out).unwrap();
        let p = doc["product"].as_array().unwrap();
        let labels: Vec<&str> = p.iter().map(|p| p["label"].as_str().unwrap()).collect();
        assert_eq!(
            labels,
            ["rhel-baseos", "rhel-appstream", "local-stuff", "vendor"]
        );
        assert_eq!(p[0]["name"].as_str(), Some("RHEL 9.4 BaseOS (x86_64)"));
        assert_eq!(
            p[1]["gpg_key"].as_str(),
            Some("/etc/pki/rpm-gpg/RPM-GPG-KEY-redhat-release")
        );
    }

    #[test]
    fn key_labels_come_from_the_key_file_name() {
        let k = |s: &str| Key::File(s.into()).label();
        assert_eq!(
            k("/etc/pki/rpm-gpg/RPM-GPG-KEY-redhat-release"),
            "redhat-release"
        );
        assert_eq!(k("/etc/pki/rpm-gpg/RPM-GPG-KEY-EPEL-9"), "EPEL-9");
        assert_eq!(k("/keys/vendor.asc"), "vendor.asc");
        assert_eq!(k("/keys/RPM-GPG-KEY-"), "RPM-GPG-KEY-");
    }

    #[test]
    fn nothing_to_write_is_an_error() {
        let e = generate_text(
            Path::new("a.repo"),
            "[a]\nenabled=0\nbaseurl=http://x/\n",
            &opts(RepoGroup::Gpgkey),
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("[a] (line 1): disabled (enabled=0)"),
            "{e}"
        );
        let e = generate_text(
            Path::new("a.repo"),
            "[a]\nenabled=maybe\n",
            &opts(RepoGroup::Gpgkey),
        )
        .unwrap_err();
        assert!(
            e.to_string().starts_with("a.repo:2: [a] enabled=maybe"),
            "{e}"
        );
    }

    #[test]
    fn the_output_is_a_catalog_that_parses() {
        use crate::catalog::{Password, Source};
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        for f in ["RPM-GPG-KEY-acme", "ca.pem", "client.pem", "client-key.pem"] {
            std::fs::write(p.join(f), "x").unwrap();
        }
        std::fs::create_dir_all(p.join("local/repodata")).unwrap();
        std::fs::write(p.join("local/repodata/repomd.xml"), "<repomd/>").unwrap();
        let dir = p.display();
        let text = format!(
            "[acme-baseos]\nname=ACME $releasever BaseOS\n\
             baseurl=https://cdn.example.com/acme/$releasever/$basearch/baseos/\n\
             gpgkey=file://{dir}/RPM-GPG-KEY-acme\nsslcacert={dir}/ca.pem\n\
             sslclientcert={dir}/client.pem\nsslclientkey={dir}/client-key.pem\n\
             username=alice\npassword=secret\n\
             [acme-appstream]\nname=AppStream\nbaseurl=http://h/appstream\n\
             gpgkey=file://{dir}/RPM-GPG-KEY-acme\nsslverify=0\n\
             [local]\nname=Local\nbaseurl=file://{dir}/local\n\
             [vendor]\nname=Vendor\nbaseurl=https://h/v\ngpgkey=https://h/KEY\n"
        );
        for g in [RepoGroup::Gpgkey, RepoGroup::File, RepoGroup::Section] {
            let out = generate_text(&p.join("acme.repo"), &text, &opts(g)).unwrap();
            let c = crate::catalog::parse(&out, p).unwrap_or_else(|e| panic!("{e:#?}\n{out}"));
            let repos: Vec<_> = c.products.iter().flat_map(|p| &p.repositories).collect();
            assert_eq!(repos.len(), 4, "{out}");
            let Source::Url(base) = &repos[0].source else {
                panic!("{out}")
            };
            assert_eq!(
                base.url.as_str(),
                "https://cdn.example.com/acme/9.4/x86_64/baseos/"
            );
            assert_eq!(base.access.ca.as_deref(), Some(p.join("ca.pem").as_path()));
            assert_eq!(base.access.username.as_deref(), Some("alice"));
            assert_eq!(
                base.access.password,
                Some(Password::Env("FERRY_PASSWORD_ACME_BASEOS".into()))
            );
            assert!(!out.contains("secret"));
            let local = repos.iter().find(|r| r.label == "local").unwrap();
            assert_eq!(local.source, Source::Dir(p.join("local")));
            if g == RepoGroup::Gpgkey {
                assert_eq!(c.products[0].gpg_key, Some(p.join("RPM-GPG-KEY-acme")));
            }
        }
    }

    #[test]
    fn a_client_key_defaults_to_the_certificate_and_a_password_needs_a_user() {
        let text = "[s]\nbaseurl=https://h/os\nsslclientcert=/pki/c.pem\npassword=pw\n";
        let out = generate_text(Path::new("a.repo"), text, &opts(RepoGroup::Gpgkey)).unwrap();
        assert!(out.contains("sslclientkey = \"/pki/c.pem\""), "{out}");
        assert!(out.contains("# no sslclientkey: dnf reads the key from the sslclientcert file"));
        assert!(
            !out.contains("pw\n") && !out.contains("password_env"),
            "{out}"
        );
        assert!(out.contains("holds a password but no username"), "{out}");
    }
}
