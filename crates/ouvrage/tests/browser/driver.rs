//! A headless Chromium for one test: a `chromedriver` child process on a free port, a fresh
//! profile directory, and a fantoccini WebDriver session. Dropping the `Chromium` kills
//! chromedriver and the Chromium it started (also when the test panics).

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// The chromedriver process. Started in its own process group so that Drop can end it together
/// with the Chromium processes it launched.
struct DriverProcess {
    child: Child,
}

impl Drop for DriverProcess {
    fn drop(&mut self) {
        // The group id is chromedriver's pid (process_group(0) below); kill(1) signals the group.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).stderr(Stdio::null()).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Chromium {
    pub client: Client,
    driver_url: String,
    session_id: String,
    // Field order matters: the process dies before its profile directory is removed.
    _process: DriverProcess,
    _profile: tempfile::TempDir,
}

impl Chromium {
    /// Starts chromedriver and opens a Chromium session with a new, empty profile.
    pub async fn start() -> Chromium {
        Chromium::start_with(None).await
    }

    /// Like [`Chromium::start`], files downloaded without asking into `downloads`.
    pub async fn start_downloading_to(downloads: &std::path::Path) -> Chromium {
        Chromium::start_with(Some(downloads)).await
    }

    async fn start_with(downloads: Option<&std::path::Path>) -> Chromium {
        let port = free_port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {CHROMEDRIVER} (apt-get install chromium-driver): {e}"));
        let process = DriverProcess { child };
        let driver_url = format!("http://127.0.0.1:{port}");
        wait_until_ready(&driver_url).await;

        let profile = tempfile::tempdir().expect("profile dir");
        let prefs = match downloads {
            Some(dir) => json!({
                "download.default_directory": dir.display().to_string(),
                "download.prompt_for_download": false,
                "safebrowsing.enabled": false,
            }),
            None => json!({}),
        };
        let caps = json!({
            "goog:chromeOptions": {
                "prefs": prefs,
                "binary": CHROMIUM,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
            // Keeps the console messages so tests can read them (CSP violations land there).
            "goog:loggingPrefs": { "browser": "ALL" },
        });
        let Value::Object(caps) = caps else { unreachable!("capabilities are an object") };
        // chromedriver speaks plain HTTP on loopback: no TLS connector (and no rustls provider) needed.
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&driver_url)
            .await
            .unwrap_or_else(|e| panic!("cannot open a Chromium session through chromedriver: {e}"));
        let session_id = client.session_id().await.expect("session id").expect("a session is open");
        Chromium { client, driver_url, session_id, _process: process, _profile: profile }
    }

    /// Ends the WebDriver session cleanly (Drop then only reaps the processes).
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap_or_else(|e| panic!("cannot open {url}: {e}"));
    }

    /// Waits (up to 15 s) for an element matching the CSS selector.
    pub async fn wait_css(&self, selector: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(15))
            .for_element(Locator::Css(selector))
            .await
            .unwrap_or_else(|e| panic!("no element `{selector}` appeared: {e}"))
    }

    /// Waits (up to 15 s) until the address bar shows `path`.
    pub async fn wait_path(&self, path: &str) {
        let ok = crate::support::eventually(Duration::from_secs(15), || async {
            self.client.current_url().await.map(|u| u.path() == path).unwrap_or(false)
        })
        .await;
        let now = self.client.current_url().await.map(|u| u.to_string()).unwrap_or_default();
        assert!(ok, "the browser should reach {path}, it is on {now}");
    }

    /// Logs in through the real form ("Se connecter").
    pub async fn login(&self, base: &str, email: &str, password: &str) {
        self.goto(&format!("{base}/login")).await;
        self.wait_css("input#email").await.send_keys(email).await.expect("type the e-mail");
        self.wait_css("input#password").await.send_keys(password).await.expect("type the password");
        self.client
            .find(Locator::XPath("//button[normalize-space()='Se connecter']"))
            .await
            .expect("the « Se connecter » button")
            .click()
            .await
            .expect("click « Se connecter »");
    }

    /// The visible text of the whole page.
    pub async fn page_text(&self) -> String {
        self.wait_css("body").await.text().await.expect("page text")
    }

    /// The console messages since the last call (chromedriver's log endpoint), as
    /// `(level, message)` pairs.
    pub async fn console(&self) -> Vec<(String, String)> {
        let url = format!("{}/session/{}/se/log", self.driver_url, self.session_id);
        let resp = reqwest::Client::new().post(&url).json(&json!({ "type": "browser" })).send().await;
        let body: Value = resp.expect("log request").json().await.expect("log JSON");
        body["value"]
            .as_array()
            .unwrap_or_else(|| panic!("unexpected log answer: {body}"))
            .iter()
            .map(|e| {
                (
                    e["level"].as_str().unwrap_or_default().to_string(),
                    e["message"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

async fn wait_until_ready(driver_url: &str) {
    let http = reqwest::Client::new();
    let status = format!("{driver_url}/status");
    let ready = crate::support::eventually(Duration::from_secs(20), || async {
        match http.get(&status).send().await {
            Ok(r) => r.json::<Value>().await.map(|v| v["value"]["ready"] == true).unwrap_or(false),
            Err(_) => false,
        }
    })
    .await;
    assert!(ready, "chromedriver did not answer on {driver_url} within 20 s");
}

/// Where CI artefacts go: `$CARGO_TARGET_DIR/ci-artifacts`, else the workspace's `target/ci-artifacts`.
pub fn artifacts_dir() -> PathBuf {
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => workspace.join(dir), // join keeps an absolute path as is
        _ => workspace.join("target"),
    };
    let dir = target.join("ci-artifacts");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}
