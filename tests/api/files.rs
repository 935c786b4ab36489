//! Files: upload, attach, download by token or signed URL, and the safety rules
//! (limits, blocked types, hostile names, active content served as attachments,
//! image previews with a pixel limit, ranges and caching).

use std::io::Cursor;

use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::chats::direct;
use crate::helpers::{Backend, TestApp, TestUser, spawn_app_with};
use blockchat::Config;

/// Every test on both databases and both storage backends: a local folder, and
/// S3 as served by moto on this machine (`.ci/run` starts it; set `TEST_S3_URL` to use
/// another), with a bucket per test.
macro_rules! storage_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite_local {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::Setup { backend: $crate::helpers::Backend::Sqlite, s3: false }).await }) *
        }
        mod sqlite_s3 {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::Setup { backend: $crate::helpers::Backend::Sqlite, s3: true }).await }) *
        }
        mod postgres_local {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::Setup { backend: $crate::helpers::Backend::Postgres, s3: false }).await }) *
        }
        mod postgres_s3 {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::Setup { backend: $crate::helpers::Backend::Postgres, s3: true }).await }) *
        }
    };
}

storage_tests!(
    a_file_round_trips_byte_exact_and_reaches_chat_members_only,
    a_100_mib_upload_streams_through,
    signed_urls_work_until_they_expire_and_cannot_be_forged,
    limits_types_and_names_are_enforced,
    active_content_is_served_as_an_attachment_in_a_sandbox,
    images_get_a_thumbnail_and_a_pixel_limit,
    ranges_and_etags_work,
    avatars_for_people_and_groups_use_the_same_pipeline,
    files_nothing_refers_to_are_collected,
    attachments_travel_over_the_websocket_too,
);

#[derive(Clone, Copy)]
struct Setup {
    backend: Backend,
    s3: bool,
}

fn s3_url() -> String {
    std::env::var("TEST_S3_URL").unwrap_or_else(|_| "http://127.0.0.1:5055".into())
}

async fn spawn(setup: Setup, customize: impl FnOnce(&mut Config)) -> TestApp {
    let bucket = setup
        .s3
        .then(|| format!("bc-test-{}", uuid::Uuid::new_v4().simple()));
    if let Some(bucket) = &bucket {
        let url = format!("{}/{bucket}", s3_url());
        let made = reqwest::Client::new()
            .put(&url)
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "S3 (moto) must be running at {} for the tests: {e}",
                    s3_url()
                )
            });
        assert!(made.status().is_success(), "cannot create bucket {bucket}");
    }
    spawn_app_with(setup.backend, |c| {
        if let Some(bucket) = bucket {
            c.s3_bucket = Some(bucket);
            c.s3_endpoint = Some(s3_url());
            c.s3_region = Some("us-east-1".into());
            c.s3_access_key_id = Some("test".into());
            c.s3_secret_access_key = Some("test".into());
        }
        customize(c);
    })
    .await
}

async fn upload(app: &TestApp, user: &TestUser, name: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
    let form = Form::new().part("file", Part::bytes(bytes).file_name(name.to_string()));
    let response = app
        .client
        .post(app.url("/files"))
        .bearer_auth(&user.token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn fetch(app: &TestApp, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut req = app.client.get(app.url(path));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    req.send().await.unwrap()
}

fn some_bytes(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 % 251) as u8).collect()
}

/// A valid 1×1 PNG whose header says 100,000 × 100,000 (its CRC fixed up to match).
fn bomb() -> Vec<u8> {
    let mut bytes = png(1, 1);
    bytes[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    bytes[20..24].copy_from_slice(&100_000u32.to_be_bytes());
    let crc = crc32(&bytes[12..29]);
    bytes[29..33].copy_from_slice(&crc.to_be_bytes());
    bytes
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in data {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([x as u8, y as u8, 99]));
    let mut out = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

async fn a_file_round_trips_byte_exact_and_reaches_chat_members_only(setup: Setup) {
    let app = spawn(setup, |_| {}).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let eve = app.user("eve").await;
    let bytes = some_bytes(3 * 1024 * 1024 + 17);
    let (status, file) = upload(&app, &alice, "report.bin", bytes.clone()).await;
    assert_eq!(status, 201, "{file}");
    assert_eq!(file["size"], bytes.len());
    assert_eq!(file["name"], "report.bin");
    let id = file["id"].as_str().unwrap();
    let path = format!("/files/{id}");
    // The uploader may fetch it; others may not, until it is shared with them.
    let got = fetch(&app, &path, Some(&alice.token)).await;
    assert_eq!(got.status(), 200);
    assert_eq!(got.bytes().await.unwrap().to_vec(), bytes);
    assert_eq!(fetch(&app, &path, Some(&bob.token)).await.status(), 404);
    assert_eq!(fetch(&app, &path, None).await.status(), 401);
    // Bob cannot attach Alice's file before he can see it.
    let chat = direct(&app, &alice, &bob).await;
    let send = |user: &TestUser, body: Value| {
        let (app, token, chat) = (&app, user.token.clone(), chat.clone());
        async move {
            app.post(format!("/chats/{chat}/messages"), Some(&token), body)
                .await
        }
    };
    send(&bob, json!({"content": "mine", "attachments": [id]}))
        .await
        .expect(422);
    let message = send(&alice, json!({"content": "", "attachments": [id]}))
        .await
        .expect(201)
        .body;
    assert_eq!(message["attachments"][0]["id"], id);
    assert_eq!(message["attachments"][0]["kind"], "file");
    let got = fetch(&app, &path, Some(&bob.token)).await;
    assert_eq!(got.status(), 200);
    assert_eq!(got.bytes().await.unwrap().to_vec(), bytes);
    assert_eq!(fetch(&app, &path, Some(&eve.token)).await.status(), 404);
    // History carries it too; unknown and repeated ids are refused.
    let history = app
        .get(format!("/chats/{chat}/messages"), Some(&bob.token))
        .await
        .expect(200)
        .body;
    assert_eq!(
        history.as_array().unwrap().last().unwrap()["attachments"][0]["id"],
        id
    );
    send(&alice, json!({"content": "x", "attachments": ["nope"]}))
        .await
        .expect(422);
    send(&alice, json!({"content": "x", "attachments": [id, id]}))
        .await
        .expect(422);
    // Deleting the message takes Bob's access away.
    let message_id = message["id"].as_str().unwrap();
    app.request(
        reqwest::Method::DELETE,
        format!("/chats/{chat}/messages/{message_id}"),
        Some(&alice.token),
        None,
    )
    .await;
    assert_eq!(fetch(&app, &path, Some(&bob.token)).await.status(), 404);
    assert_eq!(fetch(&app, &path, Some(&alice.token)).await.status(), 200);
    // The same bytes uploaded again are stored once.
    let (_, again) = upload(&app, &bob, "copy.bin", bytes.clone()).await;
    assert_ne!(again["id"], file["id"]);
    if !setup.s3 {
        let blobs = walk(&app.data_dir.path().join("files/blobs"));
        assert_eq!(blobs, 1, "content-addressed: one copy");
    }
}

/// 100 MiB through the server, streamed both ways, compared by hash.
async fn a_100_mib_upload_streams_through(setup: Setup) {
    use sha2::Digest;
    let app = spawn(setup, |c| c.file_max_bytes = 200 * 1024 * 1024).await;
    let alice = app.user("alice").await;
    const CHUNK: usize = 1024 * 1024;
    let chunk = some_bytes(CHUNK);
    let mut expected = sha2::Sha256::new();
    for _ in 0..100 {
        expected.update(&chunk);
    }
    let chunks =
        futures_util::stream::iter((0..100).map(move |_| Ok::<_, std::io::Error>(chunk.clone())));
    let part = Part::stream_with_length(reqwest::Body::wrap_stream(chunks), 100 * CHUNK as u64)
        .file_name("big.bin");
    let response = app
        .client
        .post(app.url("/files"))
        .bearer_auth(&alice.token)
        .multipart(Form::new().part("file", part))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let file: Value = response.json().await.unwrap();
    assert_eq!(file["size"], 100 * CHUNK);
    let mut got = fetch(&app, file["url"].as_str().unwrap(), None).await;
    let mut actual = sha2::Sha256::new();
    while let Some(bytes) = got.chunk().await.unwrap() {
        actual.update(&bytes);
    }
    assert_eq!(actual.finalize(), expected.finalize());
}

fn walk(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| {
                    if e.path().is_dir() {
                        walk(&e.path())
                    } else {
                        1
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

async fn signed_urls_work_until_they_expire_and_cannot_be_forged(setup: Setup) {
    let app = spawn(setup, |_| {}).await;
    let alice = app.user("alice").await;
    let (_, file) = upload(&app, &alice, "a.txt", b"hello".to_vec()).await;
    let url = file["url"].as_str().unwrap();
    let got = fetch(&app, url, None).await;
    assert_eq!(got.status(), 200);
    assert_eq!(got.text().await.unwrap(), "hello");
    let id = file["id"].as_str().unwrap();
    let forged = url.replace("sig=", "sig=00");
    assert_eq!(fetch(&app, &forged, None).await.status(), 403);
    let expired = format!("/files/{id}?expires=1000&sig=abcd");
    assert_eq!(fetch(&app, &expired, None).await.status(), 403);
    // A later expiry with the old signature is a forgery too.
    let (_, rest) = url.split_once("expires=").unwrap();
    let (expires, sig) = rest.split_once("&sig=").unwrap();
    let later: i64 = expires.parse::<i64>().unwrap() + 3600;
    let moved = format!("/files/{id}?expires={later}&sig={sig}");
    assert_eq!(fetch(&app, &moved, None).await.status(), 403);
    // A file URL does not open its thumbnail.
    let thumb = format!("/files/{id}/thumbnail?expires={expires}&sig={sig}");
    assert_eq!(fetch(&app, &thumb, None).await.status(), 403);
}

async fn limits_types_and_names_are_enforced(setup: Setup) {
    let app = spawn(setup, |c| {
        c.file_max_bytes = 1024 * 1024;
        c.file_quota_per_user_bytes = 1536 * 1024;
    })
    .await;
    let alice = app.user("alice").await;
    let (status, body) = upload(&app, &alice, "big.bin", some_bytes(1024 * 1024 + 1)).await;
    assert_eq!(status, 413, "{body}");
    let (status, _) = upload(&app, &alice, "setup.exe", some_bytes(100)).await;
    assert_eq!(status, 415);
    // Found from the content, whatever the name says.
    let mut exe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff".to_vec();
    exe.extend(some_bytes(200));
    let (status, body) = upload(&app, &alice, "holiday.jpg", exe).await;
    assert_eq!(status, 415, "{body}");
    let (status, _) = upload(&app, &alice, "empty.txt", Vec::new()).await;
    assert_eq!(status, 422);
    let (status, file) = upload(&app, &alice, "../../etc/pass\twd", b"x".to_vec()).await;
    assert_eq!(status, 201);
    assert_eq!(file["name"], "passwd");
    let (_, file) = upload(&app, &alice, "..\\..\\.hidden", b"x".to_vec()).await;
    assert_eq!(file["name"], "hidden");
    // The quota: 1 MiB in, the next 1 MiB does not fit.
    let (status, _) = upload(&app, &alice, "a.bin", some_bytes(1024 * 1024)).await;
    assert_eq!(status, 201);
    let (status, body) = upload(&app, &alice, "b.bin", some_bytes(1000 * 1024)).await;
    assert_eq!(status, 413, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("limit"), "{body}");
    // No file field at all.
    let form = Form::new().text("other", "value");
    let reply = app
        .client
        .post(app.url("/files"))
        .bearer_auth(&alice.token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 422);
    let reply = app.client.post(app.url("/files")).send().await.unwrap();
    assert_eq!(reply.status(), 401);
}

async fn active_content_is_served_as_an_attachment_in_a_sandbox(setup: Setup) {
    let app = spawn(setup, |_| {}).await;
    let alice = app.user("alice").await;
    let html = b"<html><script>alert(1)</script></html>".to_vec();
    let svg =
        br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#.to_vec();
    for (name, bytes) in [("page.html", html), ("logo.svg", svg)] {
        let (status, file) = upload(&app, &alice, name, bytes).await;
        assert_eq!(status, 201);
        let got = fetch(&app, file["url"].as_str().unwrap(), None).await;
        let header = |h: &str| got.headers()[h].to_str().unwrap().to_string();
        assert!(
            header("content-disposition").starts_with("attachment"),
            "{name}"
        );
        assert!(header("content-disposition").contains(name));
        assert_eq!(header("x-content-type-options"), "nosniff");
        assert!(header("content-security-policy").contains("sandbox"));
        assert!(header("cache-control").contains("private"));
    }
    let (_, text) = upload(&app, &alice, "notes.txt", b"plain".to_vec()).await;
    let got = fetch(&app, text["url"].as_str().unwrap(), None).await;
    assert!(
        got.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("inline")
    );
}

async fn images_get_a_thumbnail_and_a_pixel_limit(setup: Setup) {
    let app = spawn(setup, |c| c.image_max_pixels = 1_000_000).await;
    let alice = app.user("alice").await;
    let (status, file) = upload(&app, &alice, "photo.png", png(800, 600)).await;
    assert_eq!(status, 201, "{file}");
    assert_eq!(file["content_type"], "image/png");
    assert_eq!(file["kind"], "image");
    assert_eq!(
        (file["width"].as_i64(), file["height"].as_i64()),
        (Some(800), Some(600))
    );
    let thumb = fetch(&app, file["thumbnail_url"].as_str().unwrap(), None).await;
    assert_eq!(thumb.status(), 200);
    let bytes = thumb.bytes().await.unwrap();
    let small = image::load_from_memory(&bytes).unwrap();
    assert_eq!((small.width(), small.height()), (320, 240));
    // Too many pixels: refused from the header, before decoding.
    let (status, body) = upload(&app, &alice, "huge.png", png(1200, 1000)).await;
    assert_eq!(status, 422, "{body}");
    // A real bomb: a few hundred bytes that claim 100,000 × 100,000 pixels (40 GB
    // decoded) are refused from the header, in no time and no memory.
    let (status, body) = upload(&app, &alice, "bomb.png", bomb()).await;
    assert_eq!(status, 422, "{body}");
    // Not an image: no thumbnail.
    let (_, doc) = upload(&app, &alice, "a.txt", b"hi".to_vec()).await;
    assert!(doc["thumbnail_url"].is_null());
    let id = doc["id"].as_str().unwrap();
    let none = fetch(&app, &format!("/files/{id}/thumbnail"), Some(&alice.token)).await;
    assert_eq!(none.status(), 404);
}

async fn ranges_and_etags_work(setup: Setup) {
    let app = spawn(setup, |_| {}).await;
    let alice = app.user("alice").await;
    let bytes = some_bytes(10_000);
    let (_, file) = upload(&app, &alice, "r.bin", bytes.clone()).await;
    let path = format!("/files/{}", file["id"].as_str().unwrap());
    let ranged = |range: &'static str| {
        app.client
            .get(app.url(&path))
            .bearer_auth(&alice.token)
            .header("range", range)
            .send()
    };
    let got = ranged("bytes=100-199").await.unwrap();
    assert_eq!(got.status(), 206);
    assert_eq!(got.headers()["content-range"], "bytes 100-199/10000");
    assert_eq!(
        got.bytes().await.unwrap().to_vec(),
        bytes[100..200].to_vec()
    );
    let tail = ranged("bytes=-10").await.unwrap();
    assert_eq!(tail.bytes().await.unwrap().to_vec(), bytes[9990..].to_vec());
    let bad = ranged("bytes=20000-").await.unwrap();
    assert_eq!(bad.status(), 416);
    let full = fetch(&app, &path, Some(&alice.token)).await;
    let etag = full.headers()["etag"].to_str().unwrap().to_string();
    let cached = app
        .client
        .get(app.url(&path))
        .bearer_auth(&alice.token)
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status(), 304);
}

async fn avatars_for_people_and_groups_use_the_same_pipeline(setup: Setup) {
    let app = spawn(setup, |_| {}).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let eve = app.user("eve").await;
    let put_avatar = |path: String, token: String, name: &'static str, bytes: Vec<u8>| {
        let app = &app;
        async move {
            let form = Form::new().part("file", Part::bytes(bytes).file_name(name));
            let response = app
                .client
                .put(app.url(&path))
                .bearer_auth(token)
                .multipart(form)
                .send()
                .await
                .unwrap();
            (
                response.status(),
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let (status, me) = put_avatar(
        "/users/me/avatar".into(),
        alice.token.clone(),
        "me.png",
        png(400, 400),
    )
    .await;
    assert_eq!(status, 200, "{me}");
    let url = me["avatar_url"].as_str().unwrap().to_string();
    assert!(
        url.starts_with("/files/") && url.contains("/thumbnail?"),
        "{url}"
    );
    // Anyone may see a profile's avatar, through the URL they are given.
    let seen = app
        .get(format!("/users/{}", alice.id), Some(&bob.token))
        .await
        .expect(200)
        .body;
    let theirs = seen["avatar_url"].as_str().unwrap();
    let got = fetch(&app, theirs, None).await;
    assert_eq!(got.status(), 200);
    assert!(image::load_from_memory(&got.bytes().await.unwrap()).is_ok());
    let (status, _) = put_avatar(
        "/users/me/avatar".into(),
        alice.token.clone(),
        "me.txt",
        b"hi".to_vec(),
    )
    .await;
    assert_eq!(status, 415);
    let removed = app
        .request(
            reqwest::Method::DELETE,
            "/users/me/avatar",
            Some(&alice.token),
            None,
        )
        .await
        .expect(200)
        .body;
    assert!(removed["avatar_url"].is_null());

    let group = crate::chats::group(&app, &alice, "team", &[&bob]).await;
    let path = format!("/chats/{group}/avatar");
    let (status, chat) = put_avatar(path.clone(), alice.token.clone(), "g.png", png(64, 64)).await;
    assert_eq!(status, 200, "{chat}");
    assert!(chat["avatar_url"].as_str().unwrap().contains("/thumbnail?"));
    // Members may edit a group's info unless it says admins; a stranger sees no group.
    let (status, _) = put_avatar(path.clone(), eve.token.clone(), "g.png", png(8, 8)).await;
    assert_eq!(status, 404);
    app.request(
        reqwest::Method::PUT,
        format!("/chats/{group}"),
        Some(&alice.token),
        Some(json!({"settings": {"edit_info": "admins"}})),
    )
    .await
    .expect(200);
    let (status, _) = put_avatar(path.clone(), bob.token.clone(), "g.png", png(8, 8)).await;
    assert_eq!(status, 403);
    let direct_chat = direct(&app, &alice, &bob).await;
    let (status, _) = put_avatar(
        format!("/chats/{direct_chat}/avatar"),
        alice.token.clone(),
        "g.png",
        png(8, 8),
    )
    .await;
    assert_eq!(status, 403);
}

async fn files_nothing_refers_to_are_collected(setup: Setup) {
    let app = spawn(setup, |c| c.file_orphan_grace_secs = 0).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let chat = direct(&app, &alice, &bob).await;
    let (_, kept) = upload(&app, &alice, "kept.txt", b"kept".to_vec()).await;
    let (_, unsent) = upload(&app, &alice, "unsent.txt", b"unsent".to_vec()).await;
    let (_, shared) = upload(&app, &alice, "deleted.txt", b"deleted".to_vec()).await;
    let (_, same) = upload(&app, &alice, "same.txt", b"kept".to_vec()).await;
    let send = |id: &Value| {
        app.post(
            format!("/chats/{chat}/messages"),
            Some(&alice.token),
            json!({"content": "", "attachments": [id]}),
        )
    };
    send(&kept["id"]).await.expect(201);
    let gone = send(&shared["id"]).await.expect(201).body;
    app.request(
        reqwest::Method::DELETE,
        format!("/chats/{chat}/messages/{}", gone["id"].as_str().unwrap()),
        Some(&alice.token),
        None,
    )
    .await;
    let removed = blockchat::files::collect_garbage(&app.state).await.unwrap();
    // "unsent" and "deleted" had their own bytes; "same" shared its bytes with "kept".
    assert_eq!(removed, 2);
    let path = |f: &Value| format!("/files/{}", f["id"].as_str().unwrap());
    assert_eq!(
        fetch(&app, &path(&kept), Some(&alice.token)).await.status(),
        200
    );
    assert_eq!(
        fetch(&app, &path(&unsent), Some(&alice.token))
            .await
            .status(),
        404
    );
    assert_eq!(
        fetch(&app, &path(&shared), Some(&alice.token))
            .await
            .status(),
        404
    );
    assert_eq!(
        fetch(&app, &path(&same), Some(&alice.token)).await.status(),
        404
    );
    let got = fetch(&app, &path(&kept), Some(&alice.token)).await;
    assert_eq!(got.text().await.unwrap(), "kept");
}

async fn attachments_travel_over_the_websocket_too(setup: Setup) {
    use crate::realtime::Client;
    let app = spawn(setup, |_| {}).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let chat = direct(&app, &alice, &bob).await;
    let (_, file) = upload(&app, &alice, "photo.png", png(40, 30)).await;
    let (mut a, _) = Client::connect(&app, &alice).await;
    let (mut b, _) = Client::connect(&app, &bob).await;
    let send = json!({"type": "message.send", "chat_id": chat, "content": "", "client_id": "c1",
                      "attachments": [file["id"]]});
    a.send(send).await;
    let ack = a.next_of("ack").await;
    assert_eq!(ack["message"]["attachments"][0]["id"], file["id"]);
    let live = b.next_of("message.created").await;
    let thumb = live["message"]["attachments"][0]["thumbnail_url"]
        .as_str()
        .unwrap();
    assert_eq!(fetch(&app, thumb, None).await.status(), 200);
    // A file Bob cannot see is refused, and the connection lives on.
    let (_, private) = upload(&app, &alice, "secret.txt", b"s".to_vec()).await;
    b.send(json!({"type": "message.send", "chat_id": chat, "content": "x", "attachments": [private["id"]]}))
        .await;
    assert_eq!(b.next_of("error").await["code"], 422);
}
