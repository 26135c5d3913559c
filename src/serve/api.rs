//! The JSON API under `/api/v1/`, described by the OpenAPI document at
//! `/api/v1/openapi.json`. Handlers parse and authorize, then call the same library
//! functions as the command line.

use std::sync::Arc;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use utoipa::OpenApi;

use super::AppState;
use super::auth::{self, Caller};
use super::jobs::JobView;
use super::uploads::{UploadError, VolumeView};
use crate::format::constants::MAX_SIGNATURE_FILE;
use crate::store::{Access, Store};

/// An error as the API reports it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApiError {
    /// What went wrong, for a human.
    pub error: String,
    /// Where a resumable upload stands, when that is the problem.
    pub offset: Option<u64>,
}

/// A JSON error response.
pub fn error(status: StatusCode, msg: impl Into<String>) -> Response {
    (
        status,
        Json(ApiError {
            error: msg.into(),
            offset: None,
        }),
    )
        .into_response()
}

impl IntoResponse for UploadError {
    fn into_response(self) -> Response {
        let status = match &self {
            UploadError::NotFound(_) => StatusCode::NOT_FOUND,
            UploadError::Refused(_) | UploadError::Mismatch(_) | UploadError::NotListed(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            UploadError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            UploadError::HeadFirst
            | UploadError::WrongOffset { .. }
            | UploadError::LengthChanged { .. }
            | UploadError::Busy(_)
            | UploadError::Closed(_) => StatusCode::CONFLICT,
            UploadError::Interrupted(_) => StatusCode::BAD_REQUEST,
            UploadError::TooMany => StatusCode::SERVICE_UNAVAILABLE,
            UploadError::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let offset = match &self {
            UploadError::WrongOffset { expected, .. } => Some(*expected),
            _ => None,
        };
        (
            status,
            Json(ApiError {
                error: self.to_string(),
                offset,
            }),
        )
            .into_response()
    }
}

/// Who may call: everything but the OpenAPI document needs the token or a session (read
/// requests may be opened to everyone with `--public-ui`); a request that changes state
/// made with a session cookie also needs the session's CSRF token in `X-CSRF-Token`. The
/// check runs before any body byte is read.
pub async fn authorize(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let caller = auth::identify(req.headers(), &st.token, &st.sessions);
    match check(&caller, &req, st.public_ui) {
        None => next.run(req).await,
        Some(r) => r,
    }
}

/// [`auth::allow`] for a request: the refusal to send, if any.
pub fn check(caller: &Caller, req: &Request, public_read: bool) -> Option<Response> {
    let read = matches!(*req.method(), Method::GET | Method::HEAD);
    let csrf = req
        .headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok());
    auth::allow(caller, read, public_read, csrf).err().map(|d| {
        let status = match d {
            auth::Denied::NoToken => StatusCode::UNAUTHORIZED,
            _ => StatusCode::FORBIDDEN,
        };
        let mut r = error(status, d.message());
        if d == auth::Denied::NoToken {
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        r
    })
}

/// The API's routes.
pub fn routes(st: AppState) -> axum::Router<AppState> {
    let guarded = axum::Router::new()
        .route("/status", get(status))
        .route("/repositories", get(repositories))
        .route("/repository", get(repository))
        .route("/content-views", get(content_views))
        .route("/bundles", get(bundles))
        .route("/staged", get(staged))
        .route("/repofile", get(repofile))
        .route("/keys", get(keys_list).post(keys_add))
        .route("/keys/{id}", axum::routing::delete(keys_remove))
        .route("/imports", get(jobs_list).post(job_create))
        .route("/imports/{id}", get(job_get))
        .route(
            "/imports/{id}/volumes",
            post(volume_post).layer(DefaultBodyLimit::max(MAX_SIGNATURE_FILE as usize)),
        )
        .route("/uploads/{key}", get(upload_get))
        .route(
            "/uploads/{key}/{*path}",
            axum::routing::head(file_head)
                .patch(file_patch)
                .layer(DefaultBodyLimit::disable()),
        )
        .layer(DefaultBodyLimit::max(64 * 1024))
        .route_layer(middleware::from_fn_with_state(st, authorize));
    axum::Router::new()
        .route("/openapi.json", get(openapi))
        .merge(guarded)
}

#[derive(OpenApi)]
#[openapi(
    info(title = "ferry serve", description = "The disconnected site's repository server: status, trusted keys, and the upload and import of signed volumes."),
    paths(status, repositories, repository, content_views, bundles, staged, repofile, keys_list, keys_add, keys_remove, jobs_list, job_create, job_get, volume_post, upload_get, file_head, file_patch),
    components(schemas(ApiError, JobView, VolumeView, JobCreated, KeyAdded, KeyView)),
    modifiers(&BearerScheme),
    security(("token" = []))
)]
struct Doc;

/// The token as an HTTP Bearer scheme in an OpenAPI document.
pub struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        let c = api.components.get_or_insert_with(Default::default);
        c.add_security_scheme(
            "token",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The OpenAPI document.
pub fn document() -> utoipa::openapi::OpenApi {
    Doc::openapi()
}

async fn openapi() -> Response {
    Json(document()).into_response()
}

/// A failed API call: status and message.
pub struct Failure(pub StatusCode, pub String);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        error(self.0, self.1)
    }
}

/// How a handler needs the store.
#[derive(Clone, Copy)]
pub enum Need {
    /// Reading only.
    Read,
    /// Changing it: the store's lock, without waiting for an import that holds it.
    Change,
}

/// Run `f` on the store (opened as `need` says) in a blocking task.
pub async fn on_store<T, F>(root: std::path::PathBuf, need: Need, f: F) -> Result<T, Failure>
where
    T: Send + 'static,
    F: FnOnce(&Store) -> Result<T, Failure> + Send + 'static,
{
    tokio::task::spawn_blocking(move || {
        let access = match need {
            Need::Read => Access::Read,
            Need::Change => Access::Write { wait: false },
        };
        let store = Store::open(&root, access, &|_| {}).map_err(|e| match e {
            crate::store::StoreError::Busy(_) => Failure(StatusCode::CONFLICT, e.to_string()),
            e => internal(e),
        })?;
        f(&store)
    })
    .await
    .unwrap_or_else(|e| Err(internal(e)))
}

/// [`on_store`] for a handler that answers with `f`'s response, or the failure.
pub async fn with_store<F>(st: AppState, need: Need, f: F) -> Response
where
    F: FnOnce(&Store) -> Result<Response, Failure> + Send + 'static,
{
    on_store(st.store.clone(), need, f)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// A failure of the server's own.
pub fn internal(e: impl std::fmt::Display) -> Failure {
    Failure(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

/// Everything `ferry status --json` shows.
#[utoipa::path(get, path = "/api/v1/status", responses(
    (status = 200, description = "What the store holds and publishes, and its history (as `ferry status --json`)", body = Object),
    (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn status(State(st): State<AppState>) -> Response {
    with_store(st, Need::Read, |store| {
        crate::status::status(store)
            .map(|s| Json(s).into_response())
            .map_err(internal)
    })
    .await
}

/// One part of the status, as JSON.
async fn status_part(
    st: AppState,
    part: fn(crate::status::Status) -> serde_json::Value,
) -> Response {
    with_store(st, Need::Read, move |store| {
        crate::status::status(store)
            .map(|s| Json(part(s)).into_response())
            .map_err(internal)
    })
    .await
}

/// The published repositories: packages, size, version, and the bundle each came from.
#[utoipa::path(get, path = "/api/v1/repositories", responses(
    (status = 200, description = "As `repositories` of `ferry status --json`", body = Vec<Object>),
    (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn repositories(State(st): State<AppState>) -> Response {
    status_part(st, |s| serde_json::json!(s.repositories)).await
}

/// The content-view versions imported.
#[utoipa::path(get, path = "/api/v1/content-views", responses(
    (status = 200, description = "As `content_views` of `ferry status --json`", body = Vec<Object>),
    (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn content_views(State(st): State<AppState>) -> Response {
    status_part(st, |s| serde_json::json!(s.content_views)).await
}

/// The bundles imported, with signer and sequence.
#[utoipa::path(get, path = "/api/v1/bundles", responses(
    (status = 200, description = "As `bundles` of `ferry status --json`", body = Vec<Object>),
    (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn bundles(State(st): State<AppState>) -> Response {
    status_part(st, |s| serde_json::json!(s.bundles)).await
}

/// Bundles whose volumes are partly staged, with the numbers still needed.
#[utoipa::path(get, path = "/api/v1/staged", responses(
    (status = 200, description = "As `staged` of `ferry status --json`", body = Vec<Object>),
    (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn staged(State(st): State<AppState>) -> Response {
    status_part(st, |s| serde_json::json!(s.staged)).await
}

/// Query of `/repository`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RepositoryQuery {
    /// The repository's published path, e.g. `acme/library/acme-os/baseos`.
    pub path: String,
    /// Only packages matching every word (name, version, arch).
    pub q: Option<String>,
}

/// A repository's packages (name, version, arch, size) and errata, from its metadata.
#[utoipa::path(get, path = "/api/v1/repository", params(RepositoryQuery), responses(
    (status = 200, description = "packages and errata", body = Object),
    (status = 400, body = ApiError), (status = 404, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn repository(
    State(st): State<AppState>,
    q: Result<Query<RepositoryQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let q = match q {
        Ok(Query(q)) => q,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    with_store(st, Need::Read, move |store| {
        let mut c = crate::contents::contents(store, &q.path).map_err(contents_failure)?;
        if let Some(query) = q.q.as_deref() {
            c.packages.retain(|p| crate::contents::matches(p, query));
        }
        Ok(Json(c).into_response())
    })
    .await
}

/// The status of a contents error.
pub fn contents_failure(e: crate::contents::ContentsError) -> Failure {
    match e {
        crate::contents::ContentsError::NotPublished(_) => {
            Failure(StatusCode::NOT_FOUND, e.to_string())
        }
        e => internal(e),
    }
}

/// Query of `/repofile`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct RepofileQuery {
    /// Base URL of the published trees (default: this server's `/repos`).
    base_url: Option<String>,
}

/// The `.repo` file for dnf clients of this server.
#[utoipa::path(get, path = "/api/v1/repofile", params(RepofileQuery), responses(
    (status = 200, description = "A dnf .repo file", body = String, content_type = "text/plain"),
    (status = 400, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn repofile(
    State(st): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<RepofileQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let q = match q {
        Ok(Query(q)) => q,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    let base = q.base_url.unwrap_or_else(|| {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        format!("{}://{host}/repos", if st.tls { "https" } else { "http" })
    });
    with_store(st, Need::Read, move |store| {
        crate::repofile::repofile(store, Some(&base))
            .map(|text| {
                ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response()
            })
            .map_err(|e| Failure(StatusCode::BAD_REQUEST, e.to_string()))
    })
    .await
}

/// A trusted key.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeyView {
    /// Its key number (16 hex digits).
    pub key_id: String,
    /// The public key file's text.
    pub public_key: String,
    /// Its comment.
    pub comment: String,
    /// When it was added.
    pub added: String,
}

/// The keys the store trusts.
#[utoipa::path(get, path = "/api/v1/keys", responses(
    (status = 200, body = Vec<KeyView>),
    (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn keys_list(State(st): State<AppState>) -> Response {
    with_store(st, Need::Read, |store| {
        let keys: Vec<KeyView> = crate::trust::list(store)
            .map_err(internal)?
            .into_iter()
            .map(|k| KeyView {
                key_id: k.key_id,
                public_key: k.public_key,
                comment: k.comment,
                added: k.added,
            })
            .collect();
        Ok(Json(keys).into_response())
    })
    .await
}

/// A key now trusted.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KeyAdded {
    /// Its key number.
    pub key_id: String,
    /// Its comment.
    pub comment: String,
}

/// Trust a signer's public key (the text of a signify `.pub` file). Recorded in the history.
#[utoipa::path(post, path = "/api/v1/keys",
    request_body(content = String, content_type = "text/plain", description = "The .pub file"),
    responses((status = 201, body = KeyAdded), (status = 422, body = ApiError),
        (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 409, body = ApiError)))]
async fn keys_add(State(st): State<AppState>, body: Bytes) -> Response {
    let Ok(text) = String::from_utf8(body.to_vec()) else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "not a signify public key: not text",
        );
    };
    with_store(st, Need::Change, move |store| {
        crate::trust::add(store, &text)
            .map(|a| {
                (
                    StatusCode::CREATED,
                    Json(KeyAdded {
                        key_id: a.key_id,
                        comment: a.comment,
                    }),
                )
                    .into_response()
            })
            .map_err(|e| Failure(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))
    })
    .await
}

/// Stop trusting a key. Recorded in the history.
#[utoipa::path(delete, path = "/api/v1/keys/{id}", params(("id" = String, Path, description = "Key number (16 hex digits)")),
    responses((status = 204, description = "No longer trusted"), (status = 404, body = ApiError),
        (status = 401, body = ApiError), (status = 403, body = ApiError), (status = 409, body = ApiError)))]
async fn keys_remove(State(st): State<AppState>, Path(id): Path<String>) -> Response {
    with_store(st, Need::Change, move |store| {
        match crate::trust::remove(store, &id) {
            Ok(true) => Ok(StatusCode::NO_CONTENT.into_response()),
            Ok(false) => Err(Failure(
                StatusCode::NOT_FOUND,
                format!("key {id} is not trusted"),
            )),
            Err(e) => Err(internal(e)),
        }
    })
    .await
}

/// A new import job.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct JobCreated {
    /// Its id.
    pub id: String,
}

/// Import jobs, newest first.
#[utoipa::path(get, path = "/api/v1/imports", responses((status = 200, body = Vec<JobView>),
    (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn jobs_list(State(st): State<AppState>) -> Response {
    Json(st.uploads.job_views()).into_response()
}

/// Start an import job: post each volume's `SHA256.sig` to it, then its files.
#[utoipa::path(post, path = "/api/v1/imports", responses((status = 201, body = JobCreated),
    (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn job_create(State(st): State<AppState>) -> Response {
    let id = st.uploads.create_job();
    (StatusCode::CREATED, Json(JobCreated { id })).into_response()
}

/// An import job: its volumes, what each import said, and its result once done.
#[utoipa::path(get, path = "/api/v1/imports/{id}", params(("id" = String, Path)),
    responses((status = 200, body = JobView), (status = 404, body = ApiError),
        (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn job_get(State(st): State<AppState>, Path(id): Path<String>) -> Response {
    match st.uploads.job_view(&id) {
        Some(j) => Json(j).into_response(),
        None => error(StatusCode::NOT_FOUND, format!("no import job {id}")),
    }
}

/// Post a volume's `SHA256.sig` (at most 1 MiB). It must be signed by a trusted key;
/// posting the same signature again resumes that volume's upload.
#[utoipa::path(post, path = "/api/v1/imports/{id}/volumes", params(("id" = String, Path)),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The volume's SHA256.sig"),
    responses((status = 200, body = VolumeView), (status = 404, body = ApiError), (status = 413, body = ApiError),
        (status = 422, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn volume_post(State(st): State<AppState>, Path(id): Path<String>, body: Bytes) -> Response {
    match st.uploads.post_signature(&id, body).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

/// A volume upload: each file with the bytes received.
#[utoipa::path(get, path = "/api/v1/uploads/{key}", params(("key" = String, Path)),
    responses((status = 200, body = VolumeView), (status = 404, body = ApiError),
        (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn upload_get(State(st): State<AppState>, Path(key): Path<String>) -> Response {
    match st.uploads.view(&key) {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

/// Where a file's upload stands: `Upload-Offset` (bytes received).
#[utoipa::path(head, path = "/api/v1/uploads/{key}/{path}", params(("key" = String, Path), ("path" = String, Path)),
    responses((status = 200, description = "Upload-Offset gives the bytes received"), (status = 404, description = "No such upload or file"),
        (status = 401, description = "No credential"), (status = 403, description = "Wrong credential")))]
async fn file_head(
    State(st): State<AppState>,
    Path((key, path)): Path<(String, String)>,
) -> Response {
    match st.uploads.view(&key) {
        Ok(v) => match v.files.iter().find(|f| f.path == path) {
            Some(f) => (
                StatusCode::OK,
                [
                    ("upload-offset", f.received.to_string()),
                    (header::CACHE_CONTROL.as_str(), "no-store".to_string()),
                ],
            )
                .into_response(),
            None => StatusCode::NOT_FOUND.into_response(),
        },
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

/// A byte count from a header: decimal, at most the format's largest integer (2^63 − 1).
fn header_u64(h: &HeaderMap, name: &str) -> Option<u64> {
    let t = h.get(name)?.to_str().ok()?.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse()
        .ok()
        .filter(|n| *n <= crate::format::constants::MAX_INTEGER)
}

/// Append to a file of a volume: `Upload-Offset` says where the body starts (it must be
/// the bytes received so far), `Upload-Length` the file's whole length (for a pack, the
/// manifest's size). A file whose last byte arrived is checked against its signed
/// SHA-256 at once.
#[utoipa::path(patch, path = "/api/v1/uploads/{key}/{path}",
    params(("key" = String, Path), ("path" = String, Path),
        ("Upload-Offset" = u64, Header), ("Upload-Length" = u64, Header)),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, body = VolumeView), (status = 400, body = ApiError), (status = 404, body = ApiError),
        (status = 409, body = ApiError), (status = 413, body = ApiError), (status = 422, body = ApiError),
        (status = 503, body = ApiError), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
async fn file_patch(
    State(st): State<AppState>,
    Path((key, path)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (Some(offset), Some(length)) = (
        header_u64(&headers, "upload-offset"),
        header_u64(&headers, "upload-length"),
    ) else {
        return error(
            StatusCode::BAD_REQUEST,
            "Upload-Offset and Upload-Length (decimal byte counts, at most 2^63 - 1) are required",
        );
    };
    if let Some(cl) = header_u64(&headers, header::CONTENT_LENGTH.as_str())
        && offset.checked_add(cl).is_none_or(|end| end > length)
    {
        return UploadError::TooLarge {
            path,
            detail: format!("{cl} bytes from offset {offset} go past its length {length}"),
        }
        .into_response();
    }
    let uploads: &Arc<super::uploads::Uploads> = &st.uploads;
    match uploads
        .receive(&key, &path, offset, length, body.into_data_stream())
        .await
    {
        Ok(v) => {
            let mut r = Json(v).into_response();
            if let Ok(view) = uploads.view(&key)
                && let Some(f) = view.files.iter().find(|f| f.path == path)
            {
                r.headers_mut()
                    .insert("upload-offset", HeaderValue::from(f.received));
            }
            r
        }
        Err(e) => e.into_response(),
    }
}
