//! `ferry serve --catalog CATALOG --key KEY`: the connected side's server. It makes
//! bundles as jobs (the library's `pack`, as the command line runs it), lists the bundles
//! the export state has made, and hands out the volumes of the ones it made, as one tar
//! stream per volume (written as it is sent) or file by file (with byte ranges, so that
//! `ferry pull` resumes).
//!
//! Bundles it makes are written under `STATE/served/<bundle id>/vol-NN/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::body::Body;
use axum::extract::{Path as UrlPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::html;
use serde::{Deserialize, Serialize};
use utoipa::OpenApi;

use super::api::{ApiError, BearerScheme, error};
use super::auth::{self, Caller, Sessions, Token};
use super::jobs::{JobProgress, JobRecord, Phase};
use super::ui::{Gate, page_nav};
use crate::format::BundleId;
use crate::format::signify::SecretKey;
use crate::pack::{self, PackOptions, Since};
use crate::progress::Progress;
use crate::size::human;

/// The export server's state.
pub struct Export {
    /// The catalog file (read again for every bundle, so that edits take effect).
    pub catalog: PathBuf,
    /// The signing key.
    pub key: SecretKey,
    /// The export state directory.
    pub state: PathBuf,
    /// Where made bundles are kept: `STATE/served`.
    pub out: PathBuf,
    /// The admin token.
    pub token: Token,
    /// Browser sessions.
    pub sessions: Sessions,
    /// Pages and read-only API open to all.
    pub public_ui: bool,
    /// Served over TLS.
    pub tls: bool,
    /// Pack jobs.
    pub jobs: Mutex<BTreeMap<String, PackJob>>,
}

impl Gate for Export {
    fn token(&self) -> &Token {
        &self.token
    }
    fn sessions(&self) -> &Sessions {
        &self.sessions
    }
    fn tls(&self) -> bool {
        self.tls
    }
}

type St = Arc<Export>;

/// A pack job.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PackJob {
    /// Its id.
    pub id: String,
    /// When it was started.
    pub created: String,
    /// `running` or `done`.
    pub state: String,
    /// The running phase.
    pub phase: Option<Phase>,
    /// What packing said.
    pub log: Vec<String>,
    /// The bundle made, once done.
    pub bundle: Option<String>,
    /// Its sequence.
    pub sequence: Option<u64>,
    /// Its base, for an incremental bundle.
    pub base: Option<String>,
    /// Volumes written.
    pub volumes: Option<usize>,
    /// Why it failed.
    pub error: Option<String>,
}

const NAV: &[(&str, &str)] = &[("/", "Bundles"), ("/api/v1/openapi.json", "API")];

/// Every route of the export server.
pub fn router(st: St) -> axum::Router {
    let guarded = axum::Router::new()
        .route("/bundles", get(bundles_list).post(bundle_make))
        .route("/bundles/{id}", get(bundle_get))
        .route("/bundles/{id}/volumes/{n}/tar", get(volume_tar))
        .route(
            "/bundles/{id}/volumes/{n}/files/{*path}",
            get(volume_file).head(volume_file),
        )
        .route("/packs", get(packs_list))
        .route("/packs/{id}", get(pack_get))
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024))
        .route_layer(middleware::from_fn_with_state(st.clone(), authorize));
    let api = axum::Router::new()
        .route("/openapi.json", get(openapi))
        .merge(guarded);
    axum::Router::new()
        .nest("/api/v1", api)
        .route("/", get(home))
        .route("/make", post(make_form))
        .route("/packs/{id}", get(pack_page))
        .merge(super::ui::login_routes::<Export>())
        .with_state(st)
}

async fn authorize(State(st): State<St>, req: Request, next: Next) -> Response {
    let caller = auth::identify(req.headers(), &st.token, &st.sessions);
    match super::api::check(&caller, &req, st.public_ui) {
        None => next.run(req).await,
        Some(r) => r,
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "ferry serve (export)", description = "The connected side's server: make bundles, list them, download their volumes."),
    paths(bundles_list, bundle_make, bundle_get, volume_tar, volume_file, packs_list, pack_get),
    components(schemas(ApiError, PackJob, BundleView, VolumeView, FileView, MakeRequest)),
    modifiers(&BearerScheme),
    security(("token" = []))
)]
struct Doc;

/// The export server's OpenAPI document.
pub fn document() -> utoipa::openapi::OpenApi {
    Doc::openapi()
}

async fn openapi() -> Response {
    Json(document()).into_response()
}

/// A bundle made from the export state.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BundleView {
    /// Its id.
    pub bundle: String,
    /// Its sequence.
    pub sequence: u64,
    /// Its base, for an incremental bundle.
    pub base: Option<String>,
    /// When it was created.
    pub created: String,
    /// The key that signed it (this server's).
    pub signer: String,
    /// Its volumes, when this server made it and still holds them (else empty).
    pub volumes: Vec<VolumeView>,
    /// Bytes of all its volumes.
    pub bytes: u64,
}

/// A volume that can be downloaded.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VolumeView {
    /// Its number.
    pub number: u32,
    /// Its files, in the order of the volume.
    pub files: Vec<FileView>,
    /// The size of its tar.
    pub tar_size: u64,
}

/// A file of a volume.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FileView {
    /// Path in the volume.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
}

fn volume_dirs(dir: &Path) -> Vec<(u32, PathBuf)> {
    let mut v: Vec<(u32, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let n: u32 = name.strip_prefix("vol-")?.parse().ok()?;
            e.file_type().ok()?.is_dir().then_some((n, e.path()))
        })
        .collect();
    v.sort();
    v
}

fn bundle_views(st: &Export) -> Result<Vec<BundleView>, String> {
    let cat = crate::catalog::load(&st.catalog).map_err(|e| e.to_string())?;
    let state = pack::state::ExportState::open(&st.state).map_err(|e| e.to_string())?;
    let made = state
        .bundles(&cat.organization)
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for b in made.iter().rev() {
        let dir = st.out.join(b.id.to_hex());
        let mut volumes = Vec::new();
        for (number, d) in volume_dirs(&dir) {
            let files = super::tarstream::volume_files(&d).map_err(|e| e.to_string())?;
            volumes.push(VolumeView {
                number,
                tar_size: super::tarstream::tar_size(&files),
                files: files
                    .into_iter()
                    .map(|(path, size)| FileView { path, size })
                    .collect(),
            });
        }
        let bytes = volumes
            .iter()
            .flat_map(|v| v.files.iter().map(|f| f.size))
            .sum();
        out.push(BundleView {
            bundle: b.id.to_hex(),
            sequence: b.sequence,
            base: b.base.map(|x| x.to_hex()),
            created: b.created.clone(),
            signer: st.key.id.to_string(),
            volumes,
            bytes,
        });
    }
    Ok(out)
}

async fn views(st: St) -> Result<Vec<BundleView>, Response> {
    tokio::task::spawn_blocking(move || bundle_views(&st))
        .await
        .unwrap_or_else(|e| Err(e.to_string()))
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, e))
}

/// The bundles the export state has made, newest first.
#[utoipa::path(get, path = "/api/v1/bundles", responses((status = 200, body = Vec<BundleView>),
    (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn bundles_list(State(st): State<St>) -> Response {
    match views(st).await {
        Ok(v) => Json(v).into_response(),
        Err(r) => r,
    }
}

/// One bundle and its volumes.
#[utoipa::path(get, path = "/api/v1/bundles/{id}", params(("id" = String, Path)),
    responses((status = 200, body = BundleView), (status = 404, body = ApiError),
        (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn bundle_get(State(st): State<St>, UrlPath(id): UrlPath<String>) -> Response {
    match views(st).await {
        Ok(v) => match v.into_iter().find(|b| b.bundle == id) {
            Some(b) => Json(b).into_response(),
            None => error(StatusCode::NOT_FOUND, format!("no bundle {id}")),
        },
        Err(r) => r,
    }
}

/// The directory of volume `n` of bundle `id`, when this server holds it.
fn volume_dir(st: &Export, id: &str, n: u32) -> Option<PathBuf> {
    let id: BundleId = id.parse().ok()?;
    volume_dirs(&st.out.join(id.to_hex()))
        .into_iter()
        .find(|(k, _)| *k == n)
        .map(|(_, d)| d)
}

/// A volume as one tar (its entries under `vol-NN/`), streamed as it is written.
#[utoipa::path(get, path = "/api/v1/bundles/{id}/volumes/{n}/tar", params(("id" = String, Path), ("n" = u32, Path)),
    responses((status = 200, description = "application/x-tar", content_type = "application/x-tar", body = Vec<u8>),
        (status = 404, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn volume_tar(State(st): State<St>, UrlPath((id, n)): UrlPath<(String, u32)>) -> Response {
    let Some(dir) = volume_dir(&st, &id, n) else {
        return error(
            StatusCode::NOT_FOUND,
            format!("no volume {n} of bundle {id} here"),
        );
    };
    let d = dir.clone();
    let files = match tokio::task::spawn_blocking(move || super::tarstream::volume_files(&d)).await
    {
        Ok(Ok(f)) => f,
        _ => return error(StatusCode::INTERNAL_SERVER_ERROR, "cannot read the volume"),
    };
    let size = super::tarstream::tar_size(&files);
    let prefix = format!("vol-{n:02}");
    let name = format!("{}-{prefix}.tar", &id[..16.min(id.len())]);
    let body = Body::from_stream(super::tarstream::stream(dir, prefix, files));
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-tar"),
            ),
            (header::CONTENT_LENGTH, HeaderValue::from(size)),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")).expect("ascii"),
            ),
        ],
        body,
    )
        .into_response()
}

/// One file of a volume (byte ranges and conditional requests work, for resuming).
#[utoipa::path(get, path = "/api/v1/bundles/{id}/volumes/{n}/files/{path}",
    params(("id" = String, Path), ("n" = u32, Path), ("path" = String, Path)),
    responses((status = 200, description = "The file", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 206, description = "Part of the file", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 404, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn volume_file(
    State(st): State<St>,
    UrlPath((id, n, path)): UrlPath<(String, u32, String)>,
    req: Request,
) -> Response {
    let Some(dir) = volume_dir(&st, &id, n) else {
        return error(
            StatusCode::NOT_FOUND,
            format!("no volume {n} of bundle {id} here"),
        );
    };
    // Only the files a volume holds, by their exact names.
    let d = dir.clone();
    let p = path.clone();
    let file = tokio::task::spawn_blocking(move || {
        let files = super::tarstream::volume_files(&d).ok()?;
        files
            .iter()
            .any(|(f, _)| *f == p)
            .then(|| crate::bundle::media::Dir::open(&d).ok()?.open_file(&p).ok())?
    })
    .await
    .ok()
    .flatten();
    match file {
        Some(f) => super::repos::send(f, "volume-file", req.method(), req.headers()).await,
        None => error(StatusCode::NOT_FOUND, format!("no {path} in volume {n}")),
    }
}

/// Pack jobs, newest first.
#[utoipa::path(get, path = "/api/v1/packs", responses((status = 200, body = Vec<PackJob>),
    (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn packs_list(State(st): State<St>) -> Response {
    let mut v: Vec<PackJob> = st.jobs.lock().expect("jobs").values().cloned().collect();
    v.sort_by(|a, b| b.created.cmp(&a.created));
    Json(v).into_response()
}

/// A pack job.
#[utoipa::path(get, path = "/api/v1/packs/{id}", params(("id" = String, Path)),
    responses((status = 200, body = PackJob), (status = 404, body = ApiError),
        (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn pack_get(State(st): State<St>, UrlPath(id): UrlPath<String>) -> Response {
    match st.jobs.lock().expect("jobs").get(&id) {
        Some(j) => Json(j.clone()).into_response(),
        None => error(StatusCode::NOT_FOUND, format!("no pack job {id}")),
    }
}

/// What bundle to make.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct MakeRequest {
    /// Carry only what changed since the newest bundle made (default: a full bundle).
    #[serde(default)]
    pub incremental: bool,
    /// Size of one medium (`700M`, `4G`, `32G`); default: one volume.
    pub media_size: Option<String>,
}

/// Make a bundle from the catalog, as a job; poll `/api/v1/packs/{id}`.
#[utoipa::path(post, path = "/api/v1/bundles", request_body = MakeRequest,
    responses((status = 202, body = PackJob), (status = 400, body = ApiError), (status = 409, body = ApiError),
        (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn bundle_make(
    State(st): State<St>,
    body: Result<Json<MakeRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let req = match body {
        Ok(Json(r)) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    match start(&st, &req) {
        Ok(job) => (StatusCode::ACCEPTED, Json(job)).into_response(),
        Err((status, msg)) => error(status, msg),
    }
}

/// A pack job, by id.
struct PackRecord {
    st: St,
    id: String,
}

impl PackRecord {
    fn update(&self, f: impl FnOnce(&mut PackJob)) {
        if let Some(j) = self.st.jobs.lock().expect("jobs").get_mut(&self.id) {
            f(j);
        }
    }
}

impl JobRecord for PackRecord {
    fn with(&self, f: &mut dyn FnMut(&mut Option<Phase>, &mut Vec<String>)) {
        self.update(|j| f(&mut j.phase, &mut j.log));
    }
}

/// Start a pack job; one at a time.
fn start(st: &St, req: &MakeRequest) -> Result<PackJob, (StatusCode, String)> {
    let media = match req
        .media_size
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(s) => Some(
            crate::size::parse(s)
                .map_err(|e| (StatusCode::BAD_REQUEST, format!("media size: {e}")))?,
        ),
        None => None,
    };
    let id = auth::random_hex(12);
    let job = PackJob {
        id: id.clone(),
        created: crate::time::rfc3339(crate::time::now_secs()),
        state: "running".into(),
        phase: None,
        log: Vec::new(),
        bundle: None,
        sequence: None,
        base: None,
        volumes: None,
        error: None,
    };
    {
        let mut jobs = st.jobs.lock().expect("jobs");
        if jobs.values().any(|j| j.state == "running") {
            return Err((
                StatusCode::CONFLICT,
                "a bundle is being made; wait for it to finish".into(),
            ));
        }
        jobs.insert(id.clone(), job.clone());
    }
    let st2 = st.clone();
    let incremental = req.incremental;
    tokio::task::spawn_blocking(move || {
        let progress = JobProgress(PackRecord {
            st: st2.clone(),
            id: id.clone(),
        });
        let result = make(&st2, &id, incremental, media, &progress);
        progress.0.update(|j| {
            j.state = "done".into();
            j.phase = None;
            match result {
                Ok(s) => {
                    j.bundle = Some(s.bundle.to_hex());
                    j.sequence = Some(s.sequence);
                    j.base = s.base.map(|b| b.to_hex());
                    j.volumes = Some(s.volumes.len());
                }
                Err(e) => j.error = Some(e),
            }
        });
    });
    Ok(job)
}

/// Pack into a work directory, then rename it to the bundle's id.
fn make(
    st: &Export,
    job: &str,
    incremental: bool,
    media: Option<u64>,
    progress: &dyn Progress,
) -> Result<pack::PackSummary, String> {
    let cat = crate::catalog::load(&st.catalog).map_err(|e| e.to_string())?;
    let work = st.out.join(format!(".making-{job}"));
    let created = crate::time::creation_time().map_err(|e| e.to_string())?;
    let mut opts = PackOptions::new(work.clone(), created, st.state.clone());
    opts.since = incremental.then_some(Since::Newest);
    opts.set_media_size(media);
    let result = pack::pack(&cat, &st.key, &opts, progress);
    let s = match result {
        Ok(s) => s,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&work);
            return Err(e.to_string());
        }
    };
    let dest = st.out.join(s.bundle.to_hex());
    let _ = std::fs::remove_dir_all(&dest);
    std::fs::rename(&work, &dest).map_err(|e| format!("{}: {e}", dest.display()))?;
    Ok(s)
}

fn viewer(st: &Export, headers: &HeaderMap) -> Option<Caller> {
    let c = auth::identify(headers, &st.token, &st.sessions);
    (c.known() || st.public_ui).then_some(c)
}

async fn home(State(st): State<St>, headers: HeaderMap) -> Response {
    let Some(c) = viewer(&st, &headers) else {
        return Redirect::to("/login").into_response();
    };
    let list = views(st.clone()).await;
    let jobs: Vec<PackJob> = {
        let mut v: Vec<PackJob> = st.jobs.lock().expect("jobs").values().cloned().collect();
        v.sort_by(|a, b| b.created.cmp(&a.created));
        v
    };
    let body = html! {
        h1 { "Bundles" }
        p { "Catalog " code { (st.catalog.display()) } ", signed by key " code { (st.key.id) } "." }
        @if let Caller::Browser { csrf, .. } = &c {
            section #make {
                h2 { "Make a bundle" }
                form method="post" action="/make" {
                    input type="hidden" name="csrf" value=(csrf);
                    label { input type="radio" name="kind" value="incremental" checked; " incremental (only what changed since the newest bundle)" }
                    label { input type="radio" name="kind" value="full"; " full" }
                    div { label for="media" { "Media size " } input #media type="text" name="media_size" placeholder="e.g. 4G, 32G; empty: one volume"; }
                    button type="submit" { "Make bundle" }
                }
            }
        }
        @if !jobs.is_empty() {
            section #jobs {
                h2 { "Bundles being made" }
                ul { @for j in &jobs { li { a href={ "/packs/" (j.id) } { (j.created) } " — " (j.state) @if let Some(e) = &j.error { " — " span.error { (e) } } } } }
            }
        }
        section #bundles {
            h2 { "Bundles made" }
            @match &list {
                Err(_) => p.error { "The export state cannot be read." },
                Ok(list) => table {
                    tr { th.num { "Sequence" } th { "Bundle" } th { "Base" } th { "Created" } th.num { "Size" } th { "Download" } }
                    @for b in list {
                        tr { td.num { (b.sequence) } td { code { (&b.bundle[..16]) } }
                             td { @if let Some(base) = &b.base { code { (&base[..16]) } } @else { "full" } }
                             td { (b.created) } td.num { (human(b.bytes)) }
                             td { @if b.volumes.is_empty() { "not held by this server" }
                                  @for v in &b.volumes { a href={ "/api/v1/bundles/" (b.bundle) "/volumes/" (v.number) "/tar" } { "vol-" (format!("{:02}", v.number)) ".tar" } " " } } }
                    }
                },
            }
        }
    };
    Html(page_nav("Bundles", &c, NAV, body).into_string()).into_response()
}

#[derive(Deserialize)]
struct MakeForm {
    csrf: String,
    kind: String,
    media_size: Option<String>,
}

async fn make_form(
    State(st): State<St>,
    headers: HeaderMap,
    axum::Form(f): axum::Form<MakeForm>,
) -> Response {
    let c = auth::identify(&headers, &st.token, &st.sessions);
    if !c.may_change(Some(&f.csrf)) {
        return (StatusCode::FORBIDDEN, "missing or wrong CSRF token\n").into_response();
    }
    let req = MakeRequest {
        incremental: f.kind == "incremental",
        media_size: f.media_size,
    };
    match start(&st, &req) {
        Ok(job) => Redirect::to(&format!("/packs/{}", job.id)).into_response(),
        Err((status, msg)) => (
            status,
            Html(page_nav("Bundles", &c, NAV, html! { p.error { (msg) } }).into_string()),
        )
            .into_response(),
    }
}

async fn pack_page(
    State(st): State<St>,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
) -> Response {
    let Some(c) = viewer(&st, &headers) else {
        return Redirect::to("/login").into_response();
    };
    let Some(j) = st.jobs.lock().expect("jobs").get(&id).cloned() else {
        return (StatusCode::NOT_FOUND, "no such job\n").into_response();
    };
    let running = j.state == "running";
    let body = html! {
        @if running { meta http-equiv="refresh" content="1"; }
        h1 { "Making a bundle" }
        @if let Some(p) = &j.phase {
            p { (p.name) }
            @if let Some(t) = p.total { progress max=(t) value=(p.done) {} }
        }
        @if running { p { "Working… this page refreshes itself." } }
        @if let Some(e) = &j.error { p.error #result { (e) } }
        @if let Some(b) = &j.bundle {
            p.ok #result { "Bundle " code { (&b[..16]) } " made: sequence " (j.sequence.unwrap_or(0)) ", "
                (j.volumes.unwrap_or(0)) " volume(s). " a href="/" { "Download its volumes" } }
        }
    };
    Html(page_nav("Making a bundle", &c, NAV, body).into_string()).into_response()
}
