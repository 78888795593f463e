//! The test app: the real server on a random port, over a fresh database (SQLite in a temp
//! directory, or a new PostgreSQL database when `OUVRAGE_TEST_POSTGRES` holds a server URL),
//! with a cookie-keeping HTTP client per user.

use std::path::PathBuf;
use std::time::Duration;

use ouvrage::app::Application;
use ouvrage::config::{Config, ConfigArgs};
use ouvrage::db::Db;
use tokio::sync::watch;

pub struct TestApp {
    pub base: String,
    pub db: Db,
    pub files: ouvrage::features::files::FileStore,
    pub data_dir: PathBuf,
    pub config: Config,
    stop: watch::Sender<bool>,
    handle: Option<tokio::task::JoinHandle<()>>,
    _tmp: std::sync::Arc<tempfile::TempDir>,
}

/// Where a test's data lives; kept across restarts of the app within one test.
#[derive(Clone)]
pub struct TestEnv {
    pub tmp: std::sync::Arc<tempfile::TempDir>,
    pub database_url: String,
}

impl TestEnv {
    pub async fn new() -> TestEnv {
        let tmp = std::sync::Arc::new(tempfile::tempdir().expect("temp dir"));
        let database_url = match std::env::var("OUVRAGE_TEST_POSTGRES") {
            Ok(server) if !server.is_empty() => fresh_postgres_database(&server).await,
            _ => format!("sqlite://{}", tmp.path().join("ouvrage.db").display()),
        };
        TestEnv { tmp, database_url }
    }

    pub fn config(&self) -> Config {
        let args = ConfigArgs {
            addr: Some("127.0.0.1:0".parse().unwrap()),
            data: Some(self.tmp.path().to_path_buf()),
            database_url: Some(self.database_url.clone()),
            ..Default::default()
        };
        let mut c = Config::load(&args).expect("config");
        c.worker_poll_ms = 50;
        c
    }
}

/// Creates an empty database on the PostgreSQL server for one test.
async fn fresh_postgres_database(server: &str) -> String {
    use sqlx::Connection;
    let name = format!("ouvrage_test_{}", rand_suffix());
    let mut conn = sqlx::PgConnection::connect(server).await.expect("connect to OUVRAGE_TEST_POSTGRES");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("create test database");
    let mut url = url::Url::parse(server).expect("postgres URL");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    format!("{}_{}_{}", std::process::id(), nanos, N.fetch_add(1, Ordering::Relaxed))
}

impl TestApp {
    /// A running app with the demo data loaded.
    pub async fn spawn() -> TestApp {
        let env = TestEnv::new().await;
        let app = TestApp::start(&env, |_| {}).await;
        ouvrage::demo::load_if_empty(&app.db, &app.files).await.expect("demo data");
        app
    }

    /// Starts (or restarts) the app on `env`, letting the test adjust the configuration.
    pub async fn start(env: &TestEnv, adjust: impl FnOnce(&mut Config)) -> TestApp {
        let mut config = env.config();
        adjust(&mut config);
        let app = Application::build(config.clone()).await.expect("app builds");
        let addr = app.local_addr();
        let db = app.state.db.clone();
        let files = app.state.files.clone();
        let (stop, rx) = watch::channel(false);
        let handle = tokio::spawn(async move {
            app.run(Some(rx)).await.expect("server runs");
        });
        TestApp {
            base: format!("http://{addr}"),
            db,
            files,
            data_dir: config.data_dir.clone(),
            config,
            stop,
            handle: Some(handle),
            _tmp: env.tmp.clone(),
        }
    }

    /// Stops the server (draining requests and workers) and waits for it.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(h) = self.handle.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), h).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A browser-like client: keeps cookies, does not follow redirects (tests look at them).
    pub fn client(&self) -> Browser {
        let http =
            reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Browser { http, base: self.base.clone() }
    }

    /// A client logged in as `email` with the demo password.
    pub async fn login(&self, email: &str) -> Browser {
        let b = self.client();
        let resp = b.login(email, "demo-ouvrage").await;
        assert_eq!(resp.status(), 303, "login of {email} should succeed");
        b
    }
}

pub struct Browser {
    pub http: reqwest::Client,
    pub base: String,
}

impl Browser {
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http") { path.to_string() } else { format!("{}{}", self.base, path) }
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.expect("GET")
    }

    pub async fn get_text(&self, path: &str) -> (u16, String) {
        let r = self.get(path).await;
        let s = r.status().as_u16();
        (s, r.text().await.unwrap())
    }

    /// The CSRF token of the page at `path` (any page with a form carries it).
    pub async fn csrf(&self, path: &str) -> String {
        let (_, body) = self.get_text(path).await;
        extract_csrf(&body).unwrap_or_else(|| panic!("no CSRF token on {path}"))
    }

    /// Submits a form the way a browser would: fetches `page` for the token, then posts.
    pub async fn submit(&self, page: &str, action: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let token = self.csrf(page).await;
        let mut form: Vec<(&str, &str)> = vec![("_csrf", token.as_str())];
        form.extend_from_slice(fields);
        self.http.post(self.url(action)).form(&form).send().await.expect("POST")
    }

    pub async fn login(&self, email: &str, password: &str) -> reqwest::Response {
        self.submit("/login", "/login", &[("email", email), ("password", password)]).await
    }
}

pub fn extract_csrf(body: &str) -> Option<String> {
    let marker = "name=\"_csrf\" value=\"";
    let start = body.find(marker)? + marker.len();
    let end = body[start..].find('"')? + start;
    Some(body[start..end].to_string())
}

pub fn location(resp: &reqwest::Response) -> String {
    resp.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
}

/// Polls `check` until it returns true or the timeout passes.
pub async fn eventually<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
