//! Start-up time and memory of a real `ouvrage serve` process, and facts about the machine.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::data::{Generated, PASSWORD};
use super::load::{self, As, LoadSettings, Request, Scenario};
use crate::config::Config;

#[derive(Serialize, Default, Debug)]
pub struct Resources {
    pub startup_ms: f64,
    pub idle_rss_mb: f64,
    pub peak_rss_mb: f64,
}

#[derive(Serialize, Debug)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub memory_gb: f64,
}

impl Machine {
    pub fn read() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split(':').nth(1))
            .unwrap_or("inconnu")
            .trim()
            .to_string();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        Machine {
            cpu,
            cores: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            memory_gb: kb_field(&meminfo, "MemTotal:") / 1024.0 / 1024.0,
        }
    }
}

fn kb_field(text: &str, name: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0)
}

pub(super) fn rss_mb(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    kb_field(&status, field) / 1024.0
}

pub fn git_commit() -> Option<String> {
    let out = Command::new("git").args(["rev-parse", "--short", "HEAD"]).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Kills the child on every exit path.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub async fn measure(config: &Config, generated: &Generated, settings: LoadSettings) -> anyhow::Result<Resources> {
    let exe = std::env::current_exe()?;
    let started = Instant::now();
    let mut child = Child(
        Command::new(exe)
            .args(["serve", "--addr", "127.0.0.1:0"])
            .arg("--data")
            .arg(&config.data_dir)
            .arg("--database-url")
            .arg(&config.database_url)
            .env_remove("OUVRAGE_CONFIG")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?,
    );
    let pid = child.0.id();
    let stdout = child.0.stdout.take().ok_or_else(|| anyhow::anyhow!("no stdout"))?;
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    })
    .await??;
    let base = line.trim().rsplit(' ').next().unwrap_or_default().to_string();
    anyhow::ensure!(base.starts_with("http://"), "ouvrage serve did not say where it listens: {line:?}");
    let probe = load::http_client();
    let startup_ms = loop {
        if let Ok(r) = probe.get(format!("{base}/healthz")).send().await
            && r.status() == 200
        {
            break started.elapsed().as_secs_f64() * 1000.0;
        }
        anyhow::ensure!(started.elapsed() < Duration::from_secs(60), "the server did not answer /healthz within 60 s");
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_rss_mb = rss_mb(pid, "VmRSS:");

    let mut sessions = Vec::new();
    for email in super::client_session_emails(generated, settings.concurrency) {
        sessions.push(load::login(&base, email, PASSWORD).await?);
    }
    let dashboard = Scenario {
        name: "extranet_dashboard",
        who: As::ClientUser,
        request: Request::Page { path: std::sync::Arc::new(|_, _| "/espace".into()), marker: "PHASE TRAVAUX" },
        concurrency: None,
    };
    let result = load::run(&base, &dashboard, &sessions, settings).await;
    anyhow::ensure!(result.errors == 0, "load on the measured process failed: {:?}", result.first_error);
    let peak_rss_mb = rss_mb(pid, "VmHWM:");
    drop(child);
    Ok(Resources { startup_ms, idle_rss_mb, peak_rss_mb })
}

pub async fn create_postgres_database(server: &str) -> anyhow::Result<(String, String)> {
    use sqlx::Connection;
    let name = format!("ouvrage_bench_{}_{}", std::process::id(), crate::domain::time::now_ms());
    let mut conn = sqlx::PgConnection::connect(server).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await?;
    let mut url = url::Url::parse(server)?;
    url.set_path(&format!("/{name}"));
    Ok((url.to_string(), name))
}

pub async fn drop_postgres_database(server: &str, name: &str) -> anyhow::Result<()> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(server).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
        .execute(&mut conn)
        .await?;
    Ok(())
}
