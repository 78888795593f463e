//! A closed-loop HTTP load generator: N workers, each with its own logged-in session, send a
//! request, check the answer (status and a marker in the body, so a fast error page never
//! counts), record the latency, and send the next, for a warm-up then a measured period.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Who a scenario's requests are made as.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum As {
    Anonymous,
    ClientUser,
    Staff,
    /// The office of the second firm, which exports all its sites.
    ExportOffice,
    /// Integrators' software, each with its API token.
    Integrator,
}

/// The path of the next request, from the worker's random generator and the index of the
/// worker's session (pages of the session user's own objects).
pub type PathFn = Arc<dyn Fn(&mut StdRng, usize) -> String + Send + Sync>;

/// What a scenario sends, and how its answer is checked.
#[derive(Clone)]
pub enum Request {
    /// A page: status 200 and a text the right page always contains.
    Page { path: PathFn, marker: &'static str },
    /// A download of an .xlsx file: status 200 and a body, read to its end, that is a zip.
    Xlsx { path: PathFn },
    /// A new thermal study sent to the integrator API (`POST /api/v1/thermal-studies`, part
    /// `file`, the session's token): status 201. Each request sends another study, the next
    /// index of `next` in [`crate::demo::studies::sample`].
    Study { secrets: Arc<Vec<String>>, next: Arc<AtomicU64> },
    /// A 1 MB PDF published on a site of the token's client through the integrator API
    /// (`POST /api/v1/sites/{id}/documents`): status 201. Each request's bytes differ (its
    /// number is written in the PDF's header comment), so every upload is really stored.
    Document { secrets: Arc<Vec<String>>, sites: Arc<Vec<i64>>, pdf: Arc<Vec<u8>>, next: Arc<AtomicU64> },
}

/// The offset of the 12-digit number a [`Request::Document`] PDF carries in its header.
pub const DOCUMENT_TAG_AT: usize = 11;

/// A valid PDF of about `size` bytes whose header comment `% n000000000000` (12 digits at
/// [`DOCUMENT_TAG_AT`]) can be rewritten without moving any object.
pub fn bench_pdf(size: usize) -> Vec<u8> {
    let filler: String = (0..size).map(|i| (b'a' + (i % 26) as u8) as char).collect();
    let stream = format!("BT /F1 12 Tf 72 720 Td (Rapport de mesure) Tj ET\n% {filler}");
    let body = format!(
        "%PDF-1.4\n% n000000000000\n1 0 obj\n<</Type/Catalog/Pages 2 0 R>>\nendobj\n\
         2 0 obj\n<</Type/Pages/Kids[3 0 R]/Count 1>>\nendobj\n\
         3 0 obj\n<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]/Contents 4 0 R>>\nendobj\n\
         4 0 obj\n<</Length {}>>\nstream\n{stream}\nendstream\nendobj\n",
        stream.len()
    );
    let xref_at = body.len();
    let offsets: Vec<usize> =
        ["1 0 obj", "2 0 obj", "3 0 obj", "4 0 obj"].iter().map(|m| body.find(m).unwrap_or(0)).collect();
    let mut out = body;
    out.push_str("xref\n0 5\n0000000000 65535 f \n");
    for o in offsets {
        out.push_str(&format!("{o:010} 00000 n \n"));
    }
    out.push_str(&format!("trailer\n<</Size 5/Root 1 0 R>>\nstartxref\n{xref_at}\n%%EOF\n"));
    out.into_bytes()
}

#[derive(Clone)]
pub struct Scenario {
    pub name: &'static str,
    pub who: As,
    pub request: Request,
    /// Concurrent workers when not the run's (exports are measured one at a time).
    pub concurrency: Option<usize>,
}

#[derive(Clone, Copy, Debug)]
pub struct LoadSettings {
    pub concurrency: usize,
    pub warmup: Duration,
    pub duration: Duration,
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct LoadResult {
    pub requests: u64,
    pub errors: u64,
    pub rps: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
}

pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(4)
        .timeout(Duration::from_secs(120))
        .build()
        .expect("HTTP client")
}

/// Logs a fresh client in through the real login form.
pub async fn login(base: &str, email: &str, password: &str) -> anyhow::Result<reqwest::Client> {
    let client = http_client();
    let page = client.get(format!("{base}/login")).send().await?.text().await?;
    let marker = "name=\"_csrf\" value=\"";
    let start = page.find(marker).ok_or_else(|| anyhow::anyhow!("no CSRF token on /login"))? + marker.len();
    let token = &page[start..start + page[start..].find('"').unwrap_or(0)];
    let resp = client
        .post(format!("{base}/login"))
        .form(&[("_csrf", token), ("email", email), ("password", password)])
        .send()
        .await?;
    anyhow::ensure!(resp.status() == 303, "login of {email} answered {}", resp.status());
    Ok(client)
}

/// Sends one request of `request` and checks its answer; `Err` says what was wrong.
async fn send(
    client: &reqwest::Client,
    base: &str,
    request: &Request,
    rng: &mut StdRng,
    session: usize,
) -> Result<(), String> {
    match request {
        Request::Page { path, marker } => {
            let path = path(rng, session);
            let resp = client.get(format!("{base}{path}")).send().await.map_err(|e| format!("{path}: {e}"))?;
            let status = resp.status().as_u16();
            let body = resp.text().await.map_err(|e| format!("{path}: {e}"))?;
            if status == 200 && body.contains(marker) {
                Ok(())
            } else {
                Err(format!(
                    "{path}: status {status}, marker «{marker}» {}",
                    if body.contains(marker) { "present" } else { "absent" }
                ))
            }
        }
        Request::Xlsx { path } => {
            let path = path(rng, session);
            let resp = client.get(format!("{base}{path}")).send().await.map_err(|e| format!("{path}: {e}"))?;
            let status = resp.status().as_u16();
            let body = resp.bytes().await.map_err(|e| format!("{path}: {e}"))?;
            if status == 200 && body.starts_with(b"PK\x03\x04") {
                Ok(())
            } else {
                Err(format!("{path}: status {status}, {} bytes, not an .xlsx file", body.len()))
            }
        }
        Request::Study { secrets, next } => {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let spec = crate::demo::studies::sample(index);
            let part = reqwest::multipart::Part::bytes(spec.render())
                .file_name(spec.file_name())
                .mime_str("application/xml")
                .map_err(|e| e.to_string())?;
            let resp = client
                .post(format!("{base}/api/v1/thermal-studies"))
                .bearer_auth(&secrets[session % secrets.len()])
                .multipart(reqwest::multipart::Form::new().part("file", part))
                .send()
                .await
                .map_err(|e| format!("study {index}: {e}"))?;
            let status = resp.status().as_u16();
            if status == 201 {
                // Read the answer, as a client would.
                resp.bytes().await.map_err(|e| format!("study {index}: {e}"))?;
                Ok(())
            } else {
                let body = resp.text().await.unwrap_or_default();
                Err(format!("study {index}: status {status}: {}", body.chars().take(300).collect::<String>()))
            }
        }
        Request::Document { secrets, sites, pdf, next } => {
            let index = next.fetch_add(1, Ordering::Relaxed);
            let mut bytes = pdf.as_ref().clone();
            let tag = format!("{index:012}");
            bytes[DOCUMENT_TAG_AT..DOCUMENT_TAG_AT + 12].copy_from_slice(tag.as_bytes());
            let part = reqwest::multipart::Part::bytes(bytes)
                .file_name(format!("rapport-{index}.pdf"))
                .mime_str("application/pdf")
                .map_err(|e| e.to_string())?;
            let form = reqwest::multipart::Form::new().part("file", part).text("type", "report");
            let slot = session % secrets.len();
            let resp = client
                .post(format!("{base}/api/v1/sites/{}/documents", sites[slot]))
                .bearer_auth(&secrets[slot])
                .multipart(form)
                .send()
                .await
                .map_err(|e| format!("document {index}: {e}"))?;
            let status = resp.status().as_u16();
            let body = resp.text().await.unwrap_or_default();
            if status == 201 {
                Ok(())
            } else {
                Err(format!("document {index}: status {status}: {}", body.chars().take(300).collect::<String>()))
            }
        }
    }
}

pub async fn run(base: &str, scenario: &Scenario, sessions: &[reqwest::Client], settings: LoadSettings) -> LoadResult {
    let concurrency = scenario.concurrency.unwrap_or(settings.concurrency);
    let start = Instant::now();
    let measure_from = start + settings.warmup;
    let end = measure_from + settings.duration;
    let mut workers = Vec::new();
    for i in 0..concurrency {
        let session = i % sessions.len();
        let client = sessions[session].clone();
        let request = scenario.request.clone();
        let base = base.to_string();
        workers.push(tokio::spawn(async move {
            let mut rng = StdRng::seed_from_u64(i as u64 + 1);
            let mut latencies = Vec::with_capacity(4096);
            let mut errors = 0u64;
            let mut first_error = None;
            loop {
                let now = Instant::now();
                if now >= end {
                    break;
                }
                let sent = Instant::now();
                let outcome = send(&client, &base, &request, &mut rng, session).await;
                let elapsed = sent.elapsed();
                if sent >= measure_from {
                    match outcome {
                        Ok(()) => latencies.push(elapsed.as_micros() as u32),
                        Err(e) => {
                            errors += 1;
                            first_error.get_or_insert(e);
                        }
                    }
                }
                // Keep the rng moving even when paths are constant, so runs stay comparable.
                let _: u8 = rng.r#gen();
            }
            (latencies, errors, first_error)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    for w in workers {
        if let Ok((lat, err, first)) = w.await {
            all.extend(lat);
            errors += err;
            if first_error.is_none() {
                first_error = first;
            }
        }
    }
    // Long requests (an export) may end well after the measured period: the rate is over the
    // time the measured requests took.
    let measured = end.max(Instant::now()).saturating_duration_since(measure_from).max(settings.duration);
    all.sort_unstable();
    let pct = |p: f64| -> f64 {
        if all.is_empty() {
            return 0.0;
        }
        let idx = ((all.len() as f64 * p).ceil() as usize).clamp(1, all.len()) - 1;
        all[idx] as f64 / 1000.0
    };
    LoadResult {
        requests: all.len() as u64,
        errors,
        rps: all.len() as f64 / measured.as_secs_f64(),
        p50_ms: pct(0.50),
        p90_ms: pct(0.90),
        p99_ms: pct(0.99),
        max_ms: all.last().map(|v| *v as f64 / 1000.0).unwrap_or(0.0),
        first_error,
    }
}
