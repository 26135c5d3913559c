//! The web UI in headless Chromium, driven over WebDriver (Debian's chromium and
//! chromium-driver): log in, upload the volumes of a bundle through the page, see the
//! import finish and the repositories listed. A screenshot of the status page is written
//! to `target/tmp/serve-status.png`.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{ClientBuilder, Locator};

use super::common::*;
use super::serve::Server;

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

        // Upload: the directory that holds vol-01, vol-02 and vol-03, through the picker.
        c.goto(&format!("{}/upload", s.url)).await.unwrap();
        c.find(Locator::Id("picker"))
            .await
            .unwrap()
            .send_keys(&p.out.display().to_string())
            .await
            .unwrap();
        let result = c
            .wait()
            .at_most(Duration::from_secs(120))
            .for_element(Locator::Css("#result[data-result]"))
            .await
            .unwrap();
        let text = result.text().await.unwrap();
        assert!(text.contains("Import imported"), "{text}");
        let bars = c.find_all(Locator::Css("progress")).await.unwrap();
        assert!(bars.len() >= 12, "{} progress bars", bars.len());

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
