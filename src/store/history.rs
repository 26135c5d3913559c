//! The store's audit trail: every import, stage, rollback, promotion, retirement, prune and
//! trust change is an event with its time, the operating-system user who caused it, the
//! bundle concerned and what changed. Events are written in the same transaction as the
//! change they describe, so the trail never claims what did not happen.

use rusqlite::{Connection, params};
use serde::Serialize;

use super::db::{Db, DbError};

/// One event.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// Its number: events are numbered in the order they happened.
    pub id: i64,
    /// When (UTC, RFC 3339).
    pub time: String,
    /// What: `import`, `stage`, `rollback`, `retire`, `promote`, `environment-create`,
    /// `environment-remove`, `prune`, `abandon`, `trust-add`, `trust-remove`,
    /// `key-rotation`.
    pub event: String,
    /// Who: the operating-system user of the process that made the change (empty for
    /// events recorded by a ferry older than this field).
    pub actor: String,
    /// The bundle concerned, if any.
    pub bundle: Option<String>,
    /// What changed.
    pub detail: String,
}

/// The user this process runs as: the name `/etc/passwd` gives the real user id, else
/// `uid N`. (Not `$USER`, which the caller sets as it likes.)
pub fn actor() -> String {
    let uid = rustix::process::getuid().as_raw();
    let name = std::fs::read_to_string("/etc/passwd").ok().and_then(|t| {
        t.lines().find_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            let id = f.nth(1)?;
            (id.parse::<u32>().ok()? == uid).then(|| name.to_string())
        })
    });
    name.unwrap_or_else(|| format!("uid {uid}"))
}

/// Append an event (inside the caller's transaction, when it has one).
pub fn record(
    conn: &Connection,
    time: &str,
    event: &str,
    bundle: Option<&str>,
    detail: &str,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO history(time, event, bundle, detail, actor) VALUES(?1, ?2, ?3, ?4, ?5)",
        params![time, event, bundle, detail, actor()],
    )?;
    Ok(())
}

/// The events, oldest first; only the newest `last` when given.
pub fn list(db: &Db, last: Option<u32>) -> Result<Vec<Event>, DbError> {
    let mut st = db.conn.prepare(
        "SELECT id, time, event, actor, bundle, detail FROM
           (SELECT * FROM history ORDER BY id DESC LIMIT ?1) ORDER BY id",
    )?;
    let limit = last.map_or(-1, i64::from);
    let rows = st.query_map(params![limit], |r| {
        Ok(Event {
            id: r.get(0)?,
            time: r.get(1)?,
            event: r.get(2)?,
            actor: r.get(3)?,
            bundle: r.get(4)?,
            detail: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

impl std::fmt::Display for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:>5}  {}  {:<18} {:<10}",
            self.id,
            self.time,
            self.event,
            if self.actor.is_empty() {
                "?"
            } else {
                &self.actor
            }
        )?;
        if let Some(b) = &self.bundle {
            write!(f, " bundle {}:", &b[..b.len().min(16)])?;
        }
        write!(f, " {}", self.detail)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_actor_is_the_real_user() {
        let a = super::actor();
        assert!(!a.is_empty());
        if rustix::process::getuid().is_root() {
            assert_eq!(a, "root");
        }
    }
}
