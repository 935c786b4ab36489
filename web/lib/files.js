// files.js — uploads (XMLHttpRequest, for its upload progress), sizes and error wording, and file URLs that stay fresh.
//
// POST /files takes a multipart `file` field with the bearer token and answers a FileView:
// {id, name, size, content_type, kind, width, height, url, thumbnail_url, created_at}. The
// URLs are signed and short-lived (an <img> cannot send a token): a copy that has run out is
// fetched again with its message.

import * as api from './api.js';

/** The most files one message may carry (the server's limit too). */
export const MAX_FILES = 10;

/** The largest upload the server takes by default; a 413 tells the real one. */
let knownMax = 25 * 1024 * 1024;

/** 1536 → "1.5 KiB". */
export function humanSize(bytes) {
  const n = Number(bytes) || 0;
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  const text = v >= 100 || Number.isInteger(v) ? String(Math.round(v)) : v.toFixed(1).replace(/\.0$/, '');
  return `${text} ${units[i]}`;
}

/** The icon of a FileView's `kind`. */
export function kindIcon(kind) {
  return { image: 'image', video: 'video', audio: 'music', pdf: 'pdf', archive: 'box', text: 'fileText', document: 'fileText' }[kind] || 'file';
}

/** What a person reads when an upload is refused (a short phrase: it follows the file name). */
function describeFailure(status, detail) {
  if (status === 413) {
    const text = typeof detail === 'string' ? detail : '';
    const max = text.match(/larger than (\d+) bytes/);
    if (max) {
      knownMax = Number(max[1]);
      return `too large (max ${humanSize(knownMax)})`;
    }
    if (/storage|quota|full/i.test(text)) return text.replace(/\s*\(\d+ bytes\)/, '').replace(/ of (\d+) bytes/, (_, n) => ` of ${humanSize(n)}`);
    return 'too large';
  }
  if (status === 415) return 'this type is not allowed';
  if (status === 422) {
    const msg = Array.isArray(detail) ? detail.map((d) => d.msg).filter(Boolean).join('; ') : typeof detail === 'string' ? detail : '';
    if (/must not be empty/i.test(msg)) return 'the file is empty';
    return msg || 'the server could not take this file';
  }
  if (status === 429) return 'too many uploads: wait a moment and try again';
  if (status === 401) return 'please log in again';
  if (typeof detail === 'string' && detail) return detail;
  return `upload failed (${status})`;
}

export class UploadError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/**
 * Upload one File. `onProgress(sent, total)` follows the bytes out. Returns {promise, abort};
 * the promise resolves to the FileView, or rejects with an UploadError whose message is
 * ready to show next to the file (an abort rejects with status -1).
 */
export function upload(file, { onProgress } = {}) {
  let xhr = null;
  let aborted = false;
  const attempt = (token) =>
    new Promise((resolve, reject) => {
      xhr = new XMLHttpRequest();
      xhr.open('POST', '/files');
      xhr.setRequestHeader('authorization', `Bearer ${token}`);
      xhr.setRequestHeader('accept', 'application/json');
      xhr.upload.onprogress = (e) => onProgress?.(e.loaded, e.lengthComputable ? e.total : file.size);
      xhr.onload = () => {
        let data = null;
        try {
          data = xhr.responseText ? JSON.parse(xhr.responseText) : null;
        } catch {
          data = null;
        }
        if (xhr.status === 201 || xhr.status === 200) resolve(data);
        else reject(new UploadError(xhr.status, describeFailure(xhr.status, data?.detail)));
      };
      // A server that refuses an upload half way may close the connection before the browser reads its answer.
      xhr.onerror = () => reject(new UploadError(0, file.size > knownMax ? `too large (max ${humanSize(knownMax)})` : 'upload failed: cannot reach the server'));
      xhr.onabort = () => reject(new UploadError(-1, 'cancelled'));
      const form = new FormData();
      form.append('file', file, file.name || 'file');
      xhr.send(form);
    });
  const promise = (async () => {
    const token = await api.freshToken(30_000);
    if (!token) throw new UploadError(401, 'please log in again');
    if (aborted) throw new UploadError(-1, 'cancelled');
    try {
      return await attempt(token);
    } catch (e) {
      if (e.status !== 401 || aborted) throw e;
      await api.refresh().catch(() => {});
      const again = await api.freshToken(30_000);
      if (!again) throw e;
      return attempt(again);
    }
  })();
  return {
    promise,
    abort() {
      aborted = true;
      xhr?.abort();
    },
  };
}

/** Unix seconds a signed URL is good until (0 when it says nothing). */
export function expiresAt(url) {
  const m = /[?&]expires=(\d+)/.exec(url || '');
  return m ? Number(m[1]) : 0;
}

/** Whether a FileView's URLs run out within `marginMs`. */
export const isStale = (file, marginMs = 60_000) => {
  const t = expiresAt(file?.url);
  return !!t && t * 1000 - Date.now() < marginMs;
};
