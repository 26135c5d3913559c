//! Import jobs: the volumes an operator uploaded together, and the imports they ran.
//!
//! Each complete volume is imported on its own, exactly as `ferry import VOLDIR` would
//! import it: verified, its objects stored, and staged until the other volumes arrive;
//! the import of the last one publishes. One worker runs them one at a time (the store's
//! lock would serialize them anyway), and reports progress into the job.

use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use super::uploads::{Uploads, VolumeState, VolumeView};
use crate::import::{self, ImportError, ImportOptions, Outcome};
use crate::progress::Progress;

/// A job's id.
pub type JobId = String;

/// Progress of the running phase.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Phase {
    /// What is being done.
    pub name: String,
    /// Its size in bytes, when known.
    pub total: Option<u64>,
    /// Bytes done.
    pub done: u64,
}

/// An import job.
#[derive(Debug, Clone)]
pub struct Job {
    /// Its id.
    pub id: JobId,
    /// When it was created.
    pub created: String,
    /// The bundle its volumes belong to, once one was checked.
    pub bundle: Option<crate::format::BundleId>,
    /// Its volume uploads, by key, in the order they were posted.
    pub volumes: Vec<String>,
    /// The running phase.
    pub phase: Option<Phase>,
    /// What the imports said, in order.
    pub log: Vec<String>,
    /// The outcome of the latest import.
    pub outcome: Option<Outcome>,
}

/// What a client sees of a job.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct JobView {
    /// Its id.
    pub id: String,
    /// When it was created.
    pub created: String,
    /// `empty` (no volume yet), `receiving`, `importing`, or `done`.
    pub state: String,
    /// `imported`, `staged`, `already-imported`, `refused` or `failed`, once `done`.
    pub result: Option<String>,
    /// The exit code `ferry import` would give: 0 or 1, once `done`.
    pub exit_code: Option<i32>,
    /// The bundle, once known.
    pub bundle: Option<String>,
    /// Volume numbers the bundle still needs, after the latest import.
    pub remaining: Vec<u32>,
    /// Its volumes.
    pub volumes: Vec<VolumeView>,
    /// The running phase.
    pub phase: Option<Phase>,
    /// What the imports said.
    pub log: Vec<String>,
    /// The outcome of the latest import, as `ferry import --json` prints it.
    #[schema(value_type = Option<Object>)]
    pub outcome: Option<serde_json::Value>,
    /// Why it was refused or failed.
    pub error: Option<String>,
}

impl Uploads {
    /// A new, empty job.
    pub fn create_job(&self) -> JobId {
        let id = super::auth::random_hex(12);
        let mut reg = self.lock();
        // Keep the registry bounded: forget the oldest finished jobs.
        while reg.jobs.len() >= 1000 {
            let oldest = reg.jobs.keys().next().cloned().expect("not empty");
            reg.jobs.remove(&oldest);
        }
        reg.jobs.insert(
            id.clone(),
            Job {
                id: id.clone(),
                created: crate::time::rfc3339(crate::time::now_secs()),
                bundle: None,
                volumes: Vec::new(),
                phase: None,
                log: Vec::new(),
                outcome: None,
            },
        );
        id
    }

    /// A job as a client sees it.
    pub fn job_view(&self, id: &str) -> Option<JobView> {
        let reg = self.lock();
        let j = reg.jobs.get(id)?;
        let vols: Vec<VolumeView> = j
            .volumes
            .iter()
            .filter_map(|k| reg.volumes.get(k))
            .map(|v| v.view())
            .collect();
        let states: Vec<&VolumeState> = j
            .volumes
            .iter()
            .filter_map(|k| reg.volumes.get(k))
            .map(|v| &v.state)
            .collect();
        let state = if states.is_empty() {
            "empty"
        } else if states
            .iter()
            .any(|s| matches!(s, VolumeState::Head | VolumeState::Receiving))
        {
            "receiving"
        } else if states.iter().all(|s| s.finished()) {
            "done"
        } else {
            "importing"
        };
        let error = states.iter().find_map(|s| match s {
            VolumeState::Refused(m) | VolumeState::Failed(m) => Some(m.clone()),
            _ => None,
        });
        let result = (state == "done").then(|| {
            if states.iter().any(|s| matches!(s, VolumeState::Refused(_))) {
                "refused".to_string()
            } else if states.iter().any(|s| matches!(s, VolumeState::Failed(_))) {
                "failed".to_string()
            } else {
                match &j.outcome {
                    Some(Outcome::Imported(_)) => "imported".into(),
                    Some(Outcome::Staged { .. }) => "staged".into(),
                    Some(Outcome::AlreadyImported { .. }) => "already-imported".into(),
                    None if states.iter().all(
                        |s| matches!(s, VolumeState::Skipped(m) if m.contains("already imported")),
                    ) =>
                    {
                        "already-imported".into()
                    }
                    None => "staged".into(),
                }
            }
        });
        let remaining = match &j.outcome {
            Some(Outcome::Staged { remaining, .. }) => remaining.clone(),
            _ => Vec::new(),
        };
        Some(JobView {
            id: j.id.clone(),
            created: j.created.clone(),
            state: state.into(),
            exit_code: result.as_deref().map(|r| {
                if r == "refused" || r == "failed" {
                    1
                } else {
                    0
                }
            }),
            result,
            bundle: j.bundle.map(|b| b.to_hex()),
            remaining,
            volumes: vols,
            phase: j.phase.clone(),
            log: j.log.clone(),
            outcome: j
                .outcome
                .as_ref()
                .and_then(|o| serde_json::to_value(o).ok()),
            error,
        })
    }

    /// Every job, newest first.
    pub fn job_views(&self) -> Vec<JobView> {
        let ids: Vec<JobId> = {
            let reg = self.lock();
            let mut v: Vec<(&String, &Job)> = reg.jobs.iter().collect();
            v.sort_by(|a, b| b.1.created.cmp(&a.1.created));
            v.into_iter().map(|(k, _)| k.clone()).collect()
        };
        ids.iter().filter_map(|id| self.job_view(id)).collect()
    }
}

/// A job that keeps its running phase and its log (import jobs here, pack jobs on the
/// connected side).
pub trait JobRecord: Sync {
    /// Run `f` on the job's phase and log, if the job is still known.
    fn with(&self, f: &mut dyn FnMut(&mut Option<Phase>, &mut Vec<String>));
}

/// Progress of the library's work, into a job's record.
pub struct JobProgress<R>(pub R);

impl<R: JobRecord> Progress for JobProgress<R> {
    fn begin(&self, phase: &str, total: Option<u64>) {
        self.0.with(&mut |p, _| {
            *p = Some(Phase {
                name: phase.into(),
                total,
                done: 0,
            })
        });
    }
    fn advance(&self, bytes: u64) {
        self.0.with(&mut |p, _| {
            if let Some(p) = p {
                p.done = p.done.saturating_add(bytes);
            }
        });
    }
    fn end(&self) {
        self.0.with(&mut |p, _| *p = None);
    }
    fn note(&self, line: &str) {
        self.0.with(&mut |_, log| log.push(line.into()));
    }
}

/// An import job, by id.
struct ImportJob {
    uploads: Arc<Uploads>,
    job: JobId,
}

impl JobRecord for ImportJob {
    fn with(&self, f: &mut dyn FnMut(&mut Option<Phase>, &mut Vec<String>)) {
        if let Some(j) = self.uploads.lock().jobs.get_mut(&self.job) {
            f(&mut j.phase, &mut j.log);
        }
    }
}

/// Import complete volumes one at a time, as they are queued.
pub async fn worker(
    uploads: Arc<Uploads>,
    mut queue: tokio::sync::mpsc::UnboundedReceiver<String>,
) {
    while let Some(key) = queue.recv().await {
        let (dir, job): (PathBuf, JobId) = {
            let mut reg = uploads.lock();
            let Some(v) = reg.volumes.get_mut(&key) else {
                continue;
            };
            if v.state != VolumeState::Queued {
                continue;
            }
            v.state = VolumeState::Importing;
            (v.dir.clone(), v.job.clone())
        };
        let opts = ImportOptions {
            store: uploads.store.clone(),
            init: false,
            volumes: vec![dir.clone()],
            trust: Vec::new(),
            wait: true,
            allow_rollback: false,
            promote: None,
            keep_old_key: false,
        };
        let progress = JobProgress(ImportJob {
            uploads: uploads.clone(),
            job: job.clone(),
        });
        let result = tokio::task::spawn_blocking(move || import::import(&opts, &progress))
            .await
            .unwrap_or_else(|e| Err(ImportError::Internal(e.to_string())));
        let mut reg = uploads.lock();
        let reg = &mut *reg;
        let Some(v) = reg.volumes.get_mut(&key) else {
            continue;
        };
        let keep = match &result {
            Ok(Outcome::Imported(_)) => {
                v.state = VolumeState::Imported;
                false
            }
            Ok(Outcome::Staged { .. }) => {
                v.state = VolumeState::Staged;
                false
            }
            Ok(Outcome::AlreadyImported { .. }) => {
                v.state = VolumeState::Skipped("the bundle was already imported".into());
                false
            }
            Err(
                e @ (ImportError::Refused { .. }
                | ImportError::Stale(_)
                | ImportError::MissingBase { .. }
                | ImportError::KeyRotated(_)
                | ImportError::NoTrustedKey),
            ) => {
                v.state = VolumeState::Refused(e.to_string());
                false
            }
            Err(e) => {
                v.state = VolumeState::Failed(e.to_string());
                true
            }
        };
        let vol = v.volume;
        let job_id = v.job.clone();
        if !keep {
            let _ = std::fs::remove_dir_all(&dir);
        }
        if let Some(j) = reg.jobs.get_mut(&job_id) {
            j.phase = None;
            match result {
                Ok(o) => {
                    j.log.push(match &o {
                        Outcome::Imported(s) => format!(
                            "volume {}: imported bundle {} (sequence {}): {} objects added",
                            vol.unwrap_or(0),
                            &s.bundle[..16],
                            s.sequence,
                            s.objects_added
                        ),
                        Outcome::Staged { remaining, .. } => format!(
                            "volume {}: verified and staged; still needed: {remaining:?}",
                            vol.unwrap_or(0)
                        ),
                        Outcome::AlreadyImported { .. } => "already imported".into(),
                    });
                    j.outcome = Some(o);
                }
                Err(e) => j.log.push(format!("volume {}: {e}", vol.unwrap_or(0))),
            }
        }
    }
}
