//! Who may do what: the admin token, browser sessions and their CSRF tokens.
//!
//! The token is 32 random bytes in hex, read from a file (created mode 0600 at first start
//! when missing) and compared in constant time. A browser logs in with it and gets an
//! HttpOnly, SameSite=Strict session cookie; a state-changing request made with that
//! cookie must also carry the session's CSRF token (a form field or `X-CSRF-Token`). A
//! script or `ferry push` sends `Authorization: Bearer TOKEN`, which browsers never send
//! by themselves, so it needs no CSRF token. dnf may send the token as the password of
//! HTTP Basic authentication when the repositories are protected.

use std::collections::HashMap;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, header};
use base64::Engine as _;
use subtle::ConstantTimeEq as _;

/// Name of the session cookie.
pub const COOKIE: &str = "ferry_session";
/// How long a browser session lasts.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// Most sessions kept at once (the oldest is dropped first).
pub const MAX_SESSIONS: usize = 256;

/// Errors reading or creating the token file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// I/O.
    #[error("token file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Error.
        source: std::io::Error,
    },
    /// Others may read it.
    #[error(
        "token file {} can be read by others (mode {mode:o}); run: chmod 600 {}",
        path.display(), path.display()
    )]
    Readable {
        /// The file.
        path: PathBuf,
        /// Its mode.
        mode: u32,
    },
    /// Too short to be a secret.
    #[error("token file {} holds fewer than 16 characters; remove it and a new token is made", .0.display())]
    Short(PathBuf),
}

/// The admin token.
pub struct Token(String);

impl Token {
    /// Read the token from `path`, creating it (mode 0600) when it does not exist. Returns
    /// whether it was created.
    pub fn load_or_create(path: &Path) -> Result<(Self, bool), TokenError> {
        let io = |source| TokenError::Io {
            path: path.to_path_buf(),
            source,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let mode = std::fs::metadata(path).map_err(io)?.permissions().mode();
                if mode & 0o077 != 0 {
                    return Err(TokenError::Readable {
                        path: path.to_path_buf(),
                        mode: mode & 0o777,
                    });
                }
                let t = text.trim().to_string();
                if t.len() < 16 {
                    return Err(TokenError::Short(path.to_path_buf()));
                }
                Ok((Token(t), false))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(io)?;
                }
                let t = random_hex(32);
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(path)
                    .map_err(io)?;
                writeln!(f, "{t}").map_err(io)?;
                f.sync_all().map_err(io)?;
                Ok((Token(t), true))
            }
            Err(e) => Err(io(e)),
        }
    }

    /// Whether `given` is the token (constant time).
    pub fn matches(&self, given: &str) -> bool {
        given.len() == self.0.len() && bool::from(given.as_bytes().ct_eq(self.0.as_bytes()))
    }
}

/// `n` random bytes in hex.
pub fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).expect("the operating system's random numbers");
    hex::encode(b)
}

struct Session {
    csrf: String,
    created: Instant,
}

/// Browser sessions, in memory (a restart logs everyone out).
#[derive(Default)]
pub struct Sessions(Mutex<HashMap<String, Session>>);

impl Sessions {
    /// A new session: its id (the cookie) and its CSRF token.
    pub fn create(&self) -> (String, String) {
        let id = random_hex(32);
        let csrf = random_hex(32);
        let mut m = self.0.lock().expect("sessions");
        m.retain(|_, s| s.created.elapsed() < SESSION_LIFETIME);
        while m.len() >= MAX_SESSIONS {
            let oldest = m
                .iter()
                .min_by_key(|(_, s)| s.created)
                .map(|(k, _)| k.clone())
                .expect("not empty");
            m.remove(&oldest);
        }
        m.insert(
            id.clone(),
            Session {
                csrf: csrf.clone(),
                created: Instant::now(),
            },
        );
        (id, csrf)
    }

    /// The CSRF token of a live session.
    pub fn csrf(&self, id: &str) -> Option<String> {
        let m = self.0.lock().expect("sessions");
        m.get(id)
            .filter(|s| s.created.elapsed() < SESSION_LIFETIME)
            .map(|s| s.csrf.clone())
    }

    /// End a session.
    pub fn remove(&self, id: &str) {
        self.0.lock().expect("sessions").remove(id);
    }
}

/// Who made a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// Nobody we know.
    Anonymous,
    /// A credential was given, and it is wrong.
    Wrong,
    /// The admin token itself (Bearer, or Basic's password).
    Token,
    /// A browser session, with its CSRF token.
    Browser {
        /// The session id.
        session: String,
        /// Its CSRF token.
        csrf: String,
    },
}

impl Caller {
    /// Whether the caller is authenticated.
    pub fn known(&self) -> bool {
        matches!(self, Caller::Token | Caller::Browser { .. })
    }

    /// Whether a state-changing request may go ahead: a token caller always, a browser
    /// only with its session's CSRF token.
    pub fn may_change(&self, csrf_given: Option<&str>) -> bool {
        match self {
            Caller::Token => true,
            Caller::Browser { csrf, .. } => csrf_given.is_some_and(|g| {
                g.len() == csrf.len() && bool::from(g.as_bytes().ct_eq(csrf.as_bytes()))
            }),
            _ => false,
        }
    }
}

/// Whether a request may go ahead, decided before any body byte is read: a wrong
/// credential never; no credential only for reading when `public_read`; a change made with
/// a browser session only with its CSRF token (`csrf`, from `X-CSRF-Token`).
pub fn allow(
    caller: &Caller,
    read: bool,
    public_read: bool,
    csrf: Option<&str>,
) -> Result<(), Denied> {
    match caller {
        Caller::Wrong => return Err(Denied::WrongToken),
        Caller::Anonymous if !(read && public_read) => return Err(Denied::NoToken),
        _ => {}
    }
    if !read && !caller.may_change(csrf) {
        return Err(Denied::NoCsrf);
    }
    Ok(())
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// No credential (401).
    NoToken,
    /// A wrong one (403).
    WrongToken,
    /// A browser change without its CSRF token (403).
    NoCsrf,
}

impl Denied {
    /// What to tell the client.
    pub fn message(self) -> &'static str {
        match self {
            Denied::NoToken => {
                "log in: send Authorization: Bearer TOKEN (the admin token file of ferry serve)"
            }
            Denied::WrongToken => "wrong token",
            Denied::NoCsrf => {
                "a change made from a browser session needs its CSRF token (X-CSRF-Token)"
            }
        }
    }
}

/// Identify the caller from the request headers.
pub fn identify(headers: &HeaderMap, token: &Token, sessions: &Sessions) -> Caller {
    if let Some(v) = headers.get(header::AUTHORIZATION) {
        let Ok(v) = v.to_str() else {
            return Caller::Wrong;
        };
        let given = if let Some(t) = v.strip_prefix("Bearer ") {
            Some(t.trim().to_string())
        } else if let Some(b) = v.strip_prefix("Basic ") {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
                .and_then(|d| String::from_utf8(d).ok())
                .and_then(|up| up.split_once(':').map(|(_, p)| p.to_string()))
        } else {
            None
        };
        return match given {
            Some(t) if token.matches(&t) => Caller::Token,
            _ => Caller::Wrong,
        };
    }
    if let Some(id) = cookie(headers, COOKIE) {
        return match sessions.csrf(&id) {
            Some(csrf) => Caller::Browser { session: id, csrf },
            None => Caller::Anonymous,
        };
    }
    Caller::Anonymous
}

/// The value of a cookie.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// The `Set-Cookie` value of a new session.
pub fn session_cookie(id: &str, secure: bool) -> String {
    format!(
        "{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        SESSION_LIFETIME.as_secs(),
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value that ends a session.
pub fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_file_is_created_private_and_read_back() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("sub/token");
        let (t, created) = Token::load_or_create(&p).unwrap();
        assert!(created);
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let (t2, created) = Token::load_or_create(&p).unwrap();
        assert!(!created);
        assert!(t.matches(&t2.0) && !t.matches("x") && !t.matches(&t2.0[1..]));
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            Token::load_or_create(&p),
            Err(TokenError::Readable { .. })
        ));
    }

    #[test]
    fn callers_are_told_apart() {
        let d = tempfile::tempdir().unwrap();
        let (t, _) = Token::load_or_create(&d.path().join("t")).unwrap();
        let s = Sessions::default();
        let mut h = HeaderMap::new();
        assert_eq!(identify(&h, &t, &s), Caller::Anonymous);
        h.insert(
            header::AUTHORIZATION,
            format!("Bearer {}", t.0).parse().unwrap(),
        );
        assert_eq!(identify(&h, &t, &s), Caller::Token);
        h.insert(header::AUTHORIZATION, "Bearer nope".parse().unwrap());
        assert_eq!(identify(&h, &t, &s), Caller::Wrong);
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("dnf:{}", t.0));
        h.insert(
            header::AUTHORIZATION,
            format!("Basic {basic}").parse().unwrap(),
        );
        assert_eq!(identify(&h, &t, &s), Caller::Token);
        let (id, csrf) = s.create();
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            format!("a=b; {COOKIE}={id}").parse().unwrap(),
        );
        let c = identify(&h, &t, &s);
        assert!(c.known() && c.may_change(Some(&csrf)));
        assert!(!c.may_change(None) && !c.may_change(Some("bad")));
        s.remove(&id);
        assert_eq!(identify(&h, &t, &s), Caller::Anonymous);
    }
}
