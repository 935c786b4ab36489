//! Files: uploads (streamed to a temporary file, hashed, checked, then stored by their
//! SHA-256), who may download them, and how messages carry them (with signed URLs,
//! since an `<img>` cannot send a bearer token).

pub mod preview;
pub mod storage;

use std::path::PathBuf;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::domain::{is_id, new_id};
use crate::error::{Error, Result};
use crate::state::AppState;
use crate::store::{FileRow, now};
use preview::PreviewError;
use storage::{Storage, blob_key, thumb_key};

/// The most files one message may carry.
pub const ATTACHMENTS_MAX: usize = 10;
const NAME_MAX: usize = 255;
/// How much of the start of a file type detection looks at.
const SNIFF: usize = 8 * 1024;

/// A file as clients see it, with short-lived signed URLs to fetch it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FileView {
    pub id: String,
    pub name: String,
    pub size: i64,
    pub content_type: String,
    /// A hint for the client's icon: image, video, audio, pdf, archive, text, document, file.
    pub kind: &'static str,
    pub width: Option<i32>,
    pub height: Option<i32>,
    /// The file, for anyone holding this URL until it expires.
    pub url: String,
    pub thumbnail_url: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Storage, and the key that signs file URLs.
pub struct Files {
    pub storage: Storage,
    /// Keyed once; each URL clones it.
    signer: HmacSha256,
}

type HmacSha256 = Hmac<Sha256>;

impl Files {
    pub fn new(config: &crate::config::Config, secret: &[u8]) -> anyhow::Result<Self> {
        // A key of its own, derived from the server secret: a file link is no token.
        let signing_key = Sha256::new()
            .chain_update(b"file-urls:")
            .chain_update(secret)
            .finalize();
        Ok(Self {
            storage: Storage::new(config)?,
            signer: HmacSha256::new_from_slice(&signing_key)
                .map_err(|e| anyhow::anyhow!("file URL key: {e}"))?,
        })
    }

    fn mac(&self, file_id: &str, variant: &str, expires: i64) -> HmacSha256 {
        let mut mac = self.signer.clone();
        mac.update(format!("{file_id}:{variant}:{expires}").as_bytes());
        mac
    }

    fn signature(&self, file_id: &str, variant: &str, expires: i64) -> String {
        hex(&self.mac(file_id, variant, expires).finalize().into_bytes())
    }

    /// Whether `sig` signs this file and variant until `expires`, and that is still ahead.
    pub fn verify(&self, file_id: &str, variant: &str, expires: i64, sig: &str) -> bool {
        let mac = self.mac(file_id, variant, expires);
        let Some(sig) = unhex(sig) else {
            return false;
        };
        // Constant time, so the signature cannot be guessed byte by byte.
        mac.verify_slice(&sig).is_ok() && expires > now().timestamp()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// When URLs made now expire: rounded up to a quarter hour, so that they stay the
/// same for a while and browsers can cache what they fetched.
fn url_expiry(state: &AppState) -> i64 {
    let step = 900;
    let ttl = state.config.file_url_ttl_secs as i64;
    (now().timestamp() + ttl + step - 1) / step * step
}

pub fn view(state: &AppState, file: &FileRow) -> FileView {
    let expires = url_expiry(state);
    let url = |variant: &str, path: &str| {
        let sig = state.files.signature(&file.id, variant, expires);
        format!("/files/{}{path}?expires={expires}&sig={sig}", file.id)
    };
    FileView {
        id: file.id.clone(),
        name: file.name.clone(),
        size: file.size,
        content_type: file.content_type.clone(),
        kind: kind_of(&file.content_type, &file.name),
        width: file.width,
        height: file.height,
        url: url("file", ""),
        thumbnail_url: file.has_thumbnail.then(|| url("thumbnail", "/thumbnail")),
        created_at: file.created_at,
    }
}

fn kind_of(content_type: &str, name: &str) -> &'static str {
    let ext = extension(name);
    match content_type {
        t if t.starts_with("image/") => "image",
        t if t.starts_with("video/") => "video",
        t if t.starts_with("audio/") => "audio",
        "application/pdf" => "pdf",
        "application/zip"
        | "application/gzip"
        | "application/x-tar"
        | "application/x-7z-compressed"
        | "application/vnd.rar"
        | "application/x-bzip2"
        | "application/x-xz" => "archive",
        t if t.starts_with("text/") => "text",
        _ if matches!(
            ext.as_str(),
            ".doc" | ".docx" | ".odt" | ".xls" | ".xlsx" | ".ods" | ".ppt" | ".pptx" | ".odp"
        ) =>
        {
            "document"
        }
        _ => "file",
    }
}

/// The lowercased extension with its dot (`.tar.gz` is `.gz`), or empty.
fn extension(name: &str) -> String {
    name.rsplit_once('.')
        .map(|(_, ext)| format!(".{}", ext.to_lowercase()))
        .unwrap_or_default()
}

/// A name safe to store and to put in a header: the last path component, no control
/// characters, no leading dots, at most 255 characters.
pub fn sanitize_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | '<' | '>' | ':' | '|' | '?' | '*'))
        .collect();
    let trimmed = cleaned.trim().trim_start_matches('.').trim();
    let name: String = trimmed.chars().take(NAME_MAX).collect();
    if name.is_empty() { "file".into() } else { name }
}

/// The type from the content when it says, else from the name; never the client's word.
fn detect_type(head: &[u8], name: &str) -> String {
    if let Some(kind) = infer::get(head) {
        return kind.mime_type().to_string();
    }
    let guessed = mime_guess::from_path(name).first_raw();
    match guessed {
        Some(mime) => mime.to_string(),
        None if std::str::from_utf8(head).is_ok() && !head.is_empty() => "text/plain".into(),
        None => "application/octet-stream".into(),
    }
}

/// A temporary file that removes itself, whatever happens to the upload.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Stores an upload: streams it to a temporary file (hashing as it goes, never whole
/// in memory), checks size, type and quotas, makes an image's preview, and puts it in
/// storage unless the same bytes are there already.
pub async fn upload<S, E>(
    state: &AppState,
    user: &AuthUser,
    name: Option<&str>,
    mut body: S,
) -> Result<FileView>
where
    S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let config = &state.config;
    let quota = config.file_quota_per_user_bytes;
    let used = state.db.bytes_used(Some(&user.user_id)).await?;
    if quota > 0 && used as u64 >= quota {
        return Err(Error::TooLarge(format!(
            "Your file storage is full ({quota} bytes): delete some files first"
        )));
    }
    let name = sanitize_name(name.unwrap_or_default());
    let dir = config.data_dir.join("tmp");
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| Error::Internal(e.into()))?;
    let temp = TempFile(dir.join(new_id()));
    let mut out = tokio::fs::File::create(&temp.0)
        .await
        .map_err(|e| Error::Internal(e.into()))?;
    let (mut hasher, mut size, mut head) = (Sha256::new(), 0u64, Vec::new());
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| Error::invalid("file", format!("upload failed: {e}"), ""))?;
        size += chunk.len() as u64;
        if size > config.file_max_bytes {
            return Err(Error::TooLarge(format!(
                "The file is larger than {} bytes",
                config.file_max_bytes
            )));
        }
        if head.len() < SNIFF {
            let take = (SNIFF - head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..take]);
        }
        hasher.update(&chunk);
        out.write_all(&chunk)
            .await
            .map_err(|e| Error::Internal(e.into()))?;
    }
    out.flush().await.map_err(|e| Error::Internal(e.into()))?;
    drop(out);
    if size == 0 {
        return Err(Error::invalid("file", "must not be empty", ""));
    }
    let content_type = detect_type(&head, &name);
    let blocked = &config.file_blocked_types;
    if blocked.contains(&content_type) || blocked.contains(&extension(&name)) {
        return Err(Error::UnsupportedMediaType(format!(
            "Files of this type ({content_type}) are not accepted here"
        )));
    }
    if quota > 0 && used as u64 + size > quota {
        return Err(Error::TooLarge(format!(
            "This file would take your storage past its limit of {quota} bytes"
        )));
    }
    let total = config.file_quota_total_bytes;
    if total > 0 && state.db.bytes_used(None).await? as u64 + size > total {
        return Err(Error::TooLarge("The server's file storage is full".into()));
    }
    let sha256 = hex(&hasher.finalize());
    let preview = if preview::is_previewable(&content_type) {
        let (path, kind, max) = (
            temp.0.clone(),
            content_type.clone(),
            config.image_max_pixels,
        );
        let made = tokio::task::spawn_blocking(move || preview::make(&path, &kind, max))
            .await
            .map_err(|e| Error::Internal(e.into()))?;
        match made {
            Ok(preview) => Some(preview),
            Err(PreviewError::TooManyPixels { width, height }) => {
                return Err(Error::invalid(
                    "file",
                    format!(
                        "The image is {width}×{height} pixels: at most {} are accepted",
                        config.image_max_pixels
                    ),
                    "",
                ));
            }
            // Not readable as the image it claims to be: kept as a plain file.
            Err(PreviewError::Unreadable) => None,
        }
    } else {
        None
    };
    let storage = &state.files.storage;
    let key = blob_key(&sha256);
    if !storage.exists(&key).await? {
        storage.put_file(&key, &temp.0).await?;
    }
    if let Some(preview) = &preview {
        let key = thumb_key(&sha256);
        if !storage.exists(&key).await? {
            storage.put(&key, preview.thumbnail.clone()).await?;
        }
    }
    let row = FileRow {
        id: new_id(),
        owner_id: Some(user.user_id.clone()),
        sha256,
        size: size as i64,
        content_type,
        name,
        width: preview.as_ref().map(|p| p.width as i32),
        height: preview.as_ref().map(|p| p.height as i32),
        has_thumbnail: preview.is_some(),
        created_at: now(),
    };
    state.db.insert_file(&row).await?;
    Ok(view(state, &row))
}

/// The file, if `user` may see it; otherwise (or when there is none) 404.
pub async fn visible(state: &AppState, user: &AuthUser, file_id: &str) -> Result<FileRow> {
    let not_found = || Error::NotFound("File not found".into());
    if !is_id(file_id) || !state.db.may_see_file(file_id, &user.user_id).await? {
        return Err(not_found());
    }
    state.db.file(file_id).await?.ok_or_else(not_found)
}

/// The file a signed URL points to; a forged or expired signature is refused.
pub async fn signed(
    state: &AppState,
    file_id: &str,
    variant: &str,
    expires: i64,
    sig: &str,
) -> Result<FileRow> {
    if !state.files.verify(file_id, variant, expires, sig) {
        return Err(Error::Forbidden(
            "This link is invalid or has expired".into(),
        ));
    }
    state
        .db
        .file(file_id)
        .await?
        .ok_or_else(|| Error::NotFound("File not found".into()))
}

/// Checks the files a sender attaches: at most ten, no repeats, each one they may see.
pub async fn check_attachments(state: &AppState, user: &AuthUser, ids: &[String]) -> Result<()> {
    let invalid = |msg: &str| Err(Error::invalid("attachments", msg, ""));
    if ids.len() > ATTACHMENTS_MAX {
        return invalid(&format!("at most {ATTACHMENTS_MAX} files per message"));
    }
    let mut seen = std::collections::HashSet::new();
    for id in ids {
        if !seen.insert(id) {
            return invalid("a file is attached twice");
        }
        if !is_id(id) || !state.db.may_see_file(id, &user.user_id).await? {
            return invalid(&format!("no such file: {id}"));
        }
    }
    Ok(())
}

/// How a stored avatar is referenced: `file:<id>` (an upload), or an external URL
/// from before uploads existed.
pub const AVATAR_PREFIX: &str = "file:";

/// The URL clients fetch an avatar from: for an uploaded one, its thumbnail's signed URL.
pub fn avatar_url(state: &AppState, stored: Option<String>) -> Option<String> {
    let stored = stored?;
    let Some(file_id) = stored.strip_prefix(AVATAR_PREFIX) else {
        return Some(stored);
    };
    let expires = url_expiry(state);
    let sig = state.files.signature(file_id, "thumbnail", expires);
    Some(format!(
        "/files/{file_id}/thumbnail?expires={expires}&sig={sig}"
    ))
}

/// Stores an uploaded avatar (an image with a thumbnail) and returns its reference.
pub async fn upload_avatar<S, E>(
    state: &AppState,
    user: &AuthUser,
    name: Option<&str>,
    body: S,
) -> Result<String>
where
    S: Stream<Item = std::result::Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let file = upload(state, user, name, body).await?;
    if file.thumbnail_url.is_none() {
        return Err(Error::UnsupportedMediaType(
            "An avatar must be an image (JPEG, PNG, GIF or WebP)".into(),
        ));
    }
    Ok(format!("{AVATAR_PREFIX}{}", file.id))
}

/// Removes files nothing refers to any more (no live message, no avatar) once they
/// are `file_orphan_grace_secs` old, then the stored bytes no file row uses. Run by
/// the janitor. Returns how many stored objects went.
pub async fn collect_garbage(state: &AppState) -> Result<usize> {
    let grace = state.config.file_orphan_grace_secs as i64;
    let before = now() - chrono::Duration::seconds(grace);
    let hashes = state.db.delete_unreferenced_files(before).await?;
    let mut removed = 0;
    for sha256 in hashes {
        if state.db.file_hash_in_use(&sha256).await? {
            continue;
        }
        state.files.storage.delete(&blob_key(&sha256)).await?;
        state.files.storage.delete(&thumb_key(&sha256)).await?;
        removed += 1;
    }
    Ok(removed)
}

/// Whether the browser may show this type in place: only types that cannot run
/// script. Everything else is served as a download.
pub fn inline_safe(content_type: &str) -> bool {
    matches!(
        content_type,
        "image/jpeg"
            | "image/png"
            | "image/gif"
            | "image/webp"
            | "video/mp4"
            | "video/webm"
            | "audio/mpeg"
            | "audio/ogg"
            | "audio/wav"
            | "text/plain"
    )
}
