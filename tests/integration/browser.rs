//! The web UI in headless Chromium, driven over WebDriver (Debian's chromium and
//! chromium-driver): log in, upload the volumes of a bundle through the page (two dropped
//! on it, one of them resumed from an earlier, interrupted upload; then the last through
//! the directory picker), see the import finish and the repositories listed. A screenshot of the status page is written
//! to `target/tmp/serve-status.png`.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{ClientBuilder, Locator};

use super::common::*;
use super::serve::{Server, biggest_pack, eventually, interrupted_patch, received};

/// A Chrome DevTools command, through chromedriver's `goog/cdp/execute`: WebDriver has no
/// way to drop files on a page.
#[derive(Debug)]
struct Cdp {
    cmd: &'static str,
    params: serde_json::Value,
}

impl Cdp {
    fn new(cmd: &'static str, params: serde_json::Value) -> Self {
        Cdp { cmd, params }
    }
}

impl fantoccini::wd::WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/goog/cdp/execute",
            session.unwrap_or("")
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (axum::http::Method, Option<String>) {
        let body = serde_json::json!({ "cmd": self.cmd, "params": self.params });
        (axum::http::Method::POST, Some(body.to_string()))
    }
}

/// The upload page's result, once it has one.
async fn upload_result(c: &fantoccini::Client) -> String {
    c.wait()
        .at_most(Duration::from_secs(120))
        .for_element(Locator::Css("#result[data-result]"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn a_browser_logs_in_uploads_a_bundle_and_sees_it_imported() {
    require("chromium");
    require("chromedriver");
    let p = pack(&testdata().join("catalog.toml"), &["--media-size", "1M"]);
    assert_eq!(p.volumes.len(), 3);
    let store = p.tmp.path().join("store");
    ok(ferry()
        .args(["trust", "add", "--store"])
        .arg(&store)
        .arg(public(&p.key)));
    let s = Server::start(&store, &[]);

    // An upload that a client left halfway through a pack of the first volume, as a
    // browser closed mid-upload leaves it: the page must resume it from where the server
    // stands (a pack sent again from its first byte would be refused, 409).
    let first = &p.volumes[0];
    let (code, view) = s.post_sig(&s.job(), first);
    assert_eq!(code, 200, "{view}");
    let key = view["key"].as_str().unwrap().to_string();
    let (code, v) = s.send_head(&key, first);
    assert_eq!(code, 200, "{v}");
    let pack = biggest_pack(&view, first);
    let bytes = std::fs::read(first.join(&pack)).unwrap();
    interrupted_patch(
        &s,
        &key,
        &pack,
        0,
        bytes.len() as u64,
        &bytes,
        bytes.len() / 2,
    );
    eventually(|| received(&s, &key, &pack) > 0);
    let kept = received(&s, &key, &pack);
    assert!(kept > 0 && kept < bytes.len() as u64, "kept {kept}");

    let port = free_port();
    let _driver = Driver(
        Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver"),
    );
    let profile = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let shot = rt.block_on(async {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--window-size=1400,1000",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }),
        );
        let mut client = None;
        for _ in 0..100 {
            match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(c) => {
                    client = Some(c);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        let c = client.expect("a WebDriver session with chromedriver");

        // The pages need a login.
        c.goto(&format!("{}/", s.url)).await.unwrap();
        assert!(c.current_url().await.unwrap().path().ends_with("/login"));
        c.find(Locator::Id("token"))
            .await
            .unwrap()
            .send_keys(&s.token)
            .await
            .unwrap();
        c.find(Locator::Css("form[action='/login'] button"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        c.wait()
            .for_element(Locator::Css("section#repositories"))
            .await
            .unwrap();

        // Upload: volumes 1 (the interrupted one) and 2 dropped on the page, as a file
        // manager drops directories; the bundle is staged and waits for volume 3.
        c.goto(&format!("{}/upload", s.url)).await.unwrap();
        let at = c
            .execute(
                "const r = document.getElementById('drop').getBoundingClientRect(); \
                 return [r.x + r.width / 2, r.y + r.height / 2];",
                vec![],
            )
            .await
            .unwrap();
        let (x, y) = (at[0].as_f64().unwrap(), at[1].as_f64().unwrap());
        let dropped: Vec<String> = p.volumes[..2]
            .iter()
            .map(|v| v.display().to_string())
            .collect();
        for kind in ["dragEnter", "dragOver", "drop"] {
            c.issue_cmd(Cdp::new(
                "Input.dispatchDragEvent",
                serde_json::json!({
                    "type": kind, "x": x, "y": y,
                    "data": { "items": [], "files": dropped, "dragOperationsMask": 1 },
                }),
            ))
            .await
            .unwrap();
        }
        let text = upload_result(&c).await;
        assert!(
            text.contains("Import staged") && text.contains("volumes still needed: 3"),
            "{text}"
        );

        // Then volume 3 through the directory picker: the bundle is complete and imported.
        c.goto(&format!("{}/upload", s.url)).await.unwrap();
        c.find(Locator::Id("picker"))
            .await
            .unwrap()
            .send_keys(&p.volumes[2].display().to_string())
            .await
            .unwrap();
        let text = upload_result(&c).await;
        assert!(text.contains("Import imported"), "{text}");
        let bars = c.find_all(Locator::Css("progress")).await.unwrap();
        let files = std::fs::read_dir(p.volumes[2].join("packs"))
            .unwrap()
            .count();
        assert!(bars.len() > files, "{} progress bars", bars.len());

        // The status page lists the repositories; a repository page its packages.
        c.goto(&format!("{}/", s.url)).await.unwrap();
        let repos = c
            .find(Locator::Css("section#repositories"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        for r in ["BaseOS", "AppStream", "acme/library/legacy/tools"] {
            assert!(repos.contains(r), "{r} not in: {repos}");
        }
        let shot = c.screenshot().await.unwrap();
        c.find(Locator::LinkText("BaseOS"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        let packages = c
            .wait()
            .for_element(Locator::Css("table#packages"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(packages.contains("ferry-hello"), "{packages}");
        let errata = c
            .find(Locator::Css("table#errata"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(errata.contains("FERRY-2026:0001"), "{errata}");
        c.close().await.unwrap();
        shot
    });
    assert!(shot.starts_with(b"\x89PNG"), "not a PNG screenshot");
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("serve-status.png");
    std::fs::write(&out, shot).unwrap();
    eprintln!("screenshot of the status page: {}", out.display());
    drop(s);
    assert!(!published_bytes(&store).is_empty());
}
