//! `ouvrage bench --only soak`: a long run (10 minutes by default) of 200 concurrent closed-loop
//! connections on a mixed read/write workload, against the server started in the bench process.
//! It looks for what short scenarios cannot show: errors that only come with time or contention
//! (busy database, pool timeouts), memory that keeps growing, latency that drifts.
//!
//! Each connection is one person: a client user of a big company (extranet pages, messages in
//! site threads, downloads, notifications read), an office member (client search, the shared
//! inbox, answers) or an integrator's software (small PDFs published through the API). Every
//! response is checked (status and a marker, or the redirect a successful form answers), so an
//! error page counts as an error. Latencies go to fixed-size histograms per window and per
//! action, so the generator's own memory does not grow with the run; the process RSS (server and
//! generator, which share it) is sampled every few seconds.
//!
//! The workload keeps the data a page reads about the same size over the run, as real use does:
//! users hold conversations of a few messages and then start another, the office answers the
//! threads awaiting the firm oldest first, and uploads are spread over many sites. Tables grow
//! (messages, documents, notifications), as they do in production.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use super::data::{Generated, PASSWORD};
use super::load;
use crate::db::Db;

/// The run is cut into this many windows; the first is the warm-up.
const WINDOWS: usize = 10;
/// Memory is flat when the last window's mean RSS is at most this factor of the first
/// measured window's, plus [`MEMORY_ALLOWANCE_MB`].
pub(super) const MEMORY_FACTOR: f64 = 1.2;
pub(super) const MEMORY_ALLOWANCE_MB: f64 = 10.0;
/// Latency has not drifted when the last two windows' p50 and p99 are at most this factor of
/// the first two measured windows'.
pub(super) const LATENCY_FACTOR: f64 = 1.5;
/// Size of the PDFs integrators publish.
const PDF_BYTES: usize = 16 * 1024;
/// Client messages in one conversation (the first included) before the user starts another.
const CONVERSATION: u32 = 4;
/// Threads awaiting the firm's answer kept for the office; beyond, the oldest are left
/// unanswered (they stay open in the database, as they would if the office fell behind).
const AWAITING_CAP: usize = 5_000;
/// Threads recently opened, for the office's thread views.
const RECENT_CAP: usize = 1_000;
/// Distinct error messages kept for the report.
const ERROR_SAMPLES: usize = 20;

#[derive(Clone, Copy, Debug)]
pub struct SoakSettings {
    pub seconds: f64,
    pub concurrency: usize,
}

// ---------------------------------------------------------------------------------------------
// What the connections do

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Dashboard,
    SiteList,
    SiteDetail,
    SiteDocuments,
    Inbox,
    ThreadView,
    DocumentList,
    Notifications,
    Download,
    NewThread,
    Reply,
    ReadAll,
    ClientSearch,
    BoInbox,
    BoThreadView,
    Answer,
    BoReadAll,
    ApiUpload,
    ApiList,
}

impl Action {
    const ALL: [Action; 19] = [
        Action::Dashboard,
        Action::SiteList,
        Action::SiteDetail,
        Action::SiteDocuments,
        Action::Inbox,
        Action::ThreadView,
        Action::DocumentList,
        Action::Notifications,
        Action::Download,
        Action::NewThread,
        Action::Reply,
        Action::ReadAll,
        Action::ClientSearch,
        Action::BoInbox,
        Action::BoThreadView,
        Action::Answer,
        Action::BoReadAll,
        Action::ApiUpload,
        Action::ApiList,
    ];

    fn name(self) -> &'static str {
        match self {
            Action::Dashboard => "extranet_dashboard",
            Action::SiteList => "mes_chantiers_filtered",
            Action::SiteDetail => "site_detail",
            Action::SiteDocuments => "site_documents",
            Action::Inbox => "messaging_inbox",
            Action::ThreadView => "thread_view",
            Action::DocumentList => "document_list",
            Action::Notifications => "notifications",
            Action::Download => "document_download",
            Action::NewThread => "site_thread_new",
            Action::Reply => "thread_reply",
            Action::ReadAll => "notifications_read_all",
            Action::ClientSearch => "bo_client_search",
            Action::BoInbox => "bo_inbox",
            Action::BoThreadView => "bo_thread_view",
            Action::Answer => "bo_answer",
            Action::BoReadAll => "bo_notifications_read_all",
            Action::ApiUpload => "api_document_upload",
            Action::ApiList => "api_document_list",
        }
    }

    /// Whether the action always writes (thread views, downloads and lists may write read marks
    /// too, when there is something new).
    fn writes(self) -> bool {
        matches!(
            self,
            Action::NewThread
                | Action::Reply
                | Action::ReadAll
                | Action::Answer
                | Action::BoReadAll
                | Action::ApiUpload
        )
    }
}

/// Weights (per hundred requests) of each role's actions.
const CLIENT_MIX: &[(Action, u32)] = &[
    (Action::Dashboard, 20),
    (Action::SiteList, 16),
    (Action::SiteDetail, 13),
    (Action::SiteDocuments, 5),
    (Action::Inbox, 9),
    (Action::ThreadView, 8),
    (Action::DocumentList, 9),
    (Action::Notifications, 5),
    (Action::Download, 5),
    (Action::NewThread, 1),
    (Action::Reply, 4),
    (Action::ReadAll, 5),
];
const STAFF_MIX: &[(Action, u32)] = &[
    (Action::ClientSearch, 25),
    (Action::BoInbox, 20),
    (Action::BoThreadView, 15),
    (Action::Answer, 35),
    (Action::BoReadAll, 5),
];
const INTEGRATOR_MIX: &[(Action, u32)] = &[(Action::ApiUpload, 60), (Action::ApiList, 40)];

fn pick(rng: &mut StdRng, mix: &[(Action, u32)]) -> Action {
    let total: u32 = mix.iter().map(|(_, w)| w).sum();
    let mut n = rng.gen_range(0..total);
    for (action, weight) in mix {
        if n < *weight {
            return *action;
        }
        n -= weight;
    }
    mix[0].0
}

// ---------------------------------------------------------------------------------------------
// Latency histograms of fixed size

/// Sub-buckets per power of two: values are kept within 1/64 (1.6 %).
const SUB_BITS: u32 = 6;
const SUB: usize = 1 << SUB_BITS;
/// Microseconds up to 2^32 (71 minutes).
const BUCKETS: usize = (32 - SUB_BITS as usize + 1) * SUB;

fn bucket_of(us: u64) -> usize {
    let us = us.min(u32::MAX as u64);
    if us < SUB as u64 {
        return us as usize;
    }
    let shift = 63 - us.leading_zeros() - SUB_BITS;
    ((shift as usize + 1) << SUB_BITS) + ((us >> shift) as usize - SUB)
}

/// The largest value of a bucket, in microseconds.
fn bucket_top(index: usize) -> u64 {
    if index < SUB {
        return index as u64;
    }
    let shift = (index >> SUB_BITS) - 1;
    let mantissa = (index & (SUB - 1)) + SUB;
    (((mantissa + 1) as u64) << shift) - 1
}

struct Histogram {
    buckets: Vec<AtomicU64>,
    max_us: AtomicU64,
}

impl Histogram {
    fn new() -> Histogram {
        Histogram { buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(), max_us: AtomicU64::new(0) }
    }

    fn record(&self, us: u64) {
        self.buckets[bucket_of(us)].fetch_add(1, Ordering::Relaxed);
        self.max_us.fetch_max(us, Ordering::Relaxed);
    }

    fn snapshot(&self) -> Counts {
        Counts {
            buckets: self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect(),
            max_us: self.max_us.load(Ordering::Relaxed),
        }
    }
}

/// A histogram read out, to merge and query.
#[derive(Clone)]
struct Counts {
    buckets: Vec<u64>,
    max_us: u64,
}

impl Counts {
    fn empty() -> Counts {
        Counts { buckets: vec![0; BUCKETS], max_us: 0 }
    }

    fn add(&mut self, other: &Counts) {
        for (a, b) in self.buckets.iter_mut().zip(&other.buckets) {
            *a += b;
        }
        self.max_us = self.max_us.max(other.max_us);
    }

    fn total(&self) -> u64 {
        self.buckets.iter().sum()
    }

    /// The `p` quantile in milliseconds (the top of its bucket, never above the maximum seen).
    fn quantile_ms(&self, p: f64) -> f64 {
        let total = self.total();
        if total == 0 {
            return 0.0;
        }
        let rank = ((total as f64 * p).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (i, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return bucket_top(i).min(self.max_us) as f64 / 1000.0;
            }
        }
        self.max_us as f64 / 1000.0
    }
}

// ---------------------------------------------------------------------------------------------
// Shared state of the run

struct Stats {
    start: Instant,
    window: Duration,
    windows: Vec<(Histogram, AtomicU64)>,
    actions: Vec<(Histogram, AtomicU64)>,
    samples: Mutex<Vec<String>>,
}

impl Stats {
    fn window_of(&self, at: Instant) -> usize {
        let elapsed = at.saturating_duration_since(self.start).as_secs_f64();
        ((elapsed / self.window.as_secs_f64()) as usize).min(WINDOWS - 1)
    }

    fn record(&self, sent: Instant, action: Action, outcome: Result<(), String>) {
        let us = sent.elapsed().as_micros() as u64;
        let (w_hist, w_errors) = &self.windows[self.window_of(sent)];
        let (a_hist, a_errors) = &self.actions[action as usize];
        match outcome {
            Ok(()) => {
                w_hist.record(us);
                a_hist.record(us);
            }
            Err(e) => {
                w_errors.fetch_add(1, Ordering::Relaxed);
                a_errors.fetch_add(1, Ordering::Relaxed);
                let mut samples = self.samples.lock().unwrap_or_else(|p| p.into_inner());
                let line = format!("{}: {e}", action.name());
                if samples.len() < ERROR_SAMPLES && !samples.contains(&line) {
                    samples.push(line);
                }
            }
        }
    }
}

/// What one big company's users act on.
struct Company {
    /// Its sites (not dwellings) with their postcodes.
    sites: Vec<(i64, &'static str)>,
    /// Its threads about a site, as generated.
    threads: Vec<i64>,
    /// Its documents a client user may see, the published reports first.
    documents: Vec<i64>,
}

struct Shared {
    base: String,
    /// Threads awaiting the firm's answer, oldest first.
    awaiting: Mutex<VecDeque<i64>>,
    /// Threads opened during the run, newest last.
    recent: Mutex<VecDeque<i64>>,
    /// Every generated site thread of the big companies, for the office's views.
    existing_threads: Vec<i64>,
    cities: Vec<&'static str>,
    pdf: Vec<u8>,
    uploads: AtomicU64,
    messages: AtomicU64,
}

impl Shared {
    fn awaits_answer(&self, thread: i64) {
        let mut q = self.awaiting.lock().unwrap_or_else(|p| p.into_inner());
        if !q.contains(&thread) {
            if q.len() >= AWAITING_CAP {
                q.pop_front();
            }
            q.push_back(thread);
        }
    }

    fn opened(&self, thread: i64) {
        let mut r = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        if r.len() >= RECENT_CAP {
            r.pop_front();
        }
        r.push_back(thread);
    }

    fn next_awaiting(&self) -> Option<i64> {
        self.awaiting.lock().unwrap_or_else(|p| p.into_inner()).pop_front()
    }

    fn recent_thread(&self, rng: &mut StdRng) -> Option<i64> {
        let r = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        (!r.is_empty()).then(|| r[rng.gen_range(0..r.len())])
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Client,
    Staff,
    Integrator,
}

/// One connection: its session (or token), and what it is doing.
struct Worker {
    http: reqwest::Client,
    role: Role,
    csrf: String,
    company: Option<Arc<Company>>,
    /// Integrators: the token and the sites of its client.
    api: Option<(String, Arc<Vec<i64>>)>,
    /// The conversation this client user is holding: the thread and the messages left to send.
    conversation: Option<(i64, u32)>,
    rng: StdRng,
}

fn check_page(path: &str, status: u16, body: &str, marker: &str) -> Result<(), String> {
    if status == 200 && body.contains(marker) {
        Ok(())
    } else {
        Err(format!(
            "{path}: status {status}, marker «{marker}» {}",
            if body.contains(marker) { "present" } else { "absent" }
        ))
    }
}

/// The CSRF token of a page's forms.
fn csrf_of(page: &str) -> Option<String> {
    let marker = "name=\"_csrf\" value=\"";
    let start = page.find(marker)? + marker.len();
    let len = page[start..].find('"')?;
    Some(page[start..start + len].to_string())
}

impl Worker {
    async fn get(&self, shared: &Shared, path: &str, marker: &str) -> Result<(), String> {
        let resp = self.http.get(format!("{}{path}", shared.base)).send().await.map_err(|e| format!("{path}: {e}"))?;
        let status = resp.status().as_u16();
        let body = resp.text().await.map_err(|e| format!("{path}: {e}"))?;
        check_page(path, status, &body, marker)
    }

    /// Sends a form and expects the redirect of success (303 to a location starting with
    /// `to`); returns the location.
    async fn post(
        &self,
        shared: &Shared,
        path: &str,
        form: Result<reqwest::multipart::Form, Vec<(&str, &str)>>,
        to: &str,
    ) -> Result<String, String> {
        let url = format!("{}{path}", shared.base);
        let request = match form {
            Ok(multipart) => self.http.post(format!("{url}?_csrf={}", self.csrf)).multipart(multipart),
            Err(fields) => {
                let mut all = vec![("_csrf", self.csrf.as_str())];
                all.extend(fields);
                self.http.post(url).form(&all)
            }
        };
        let resp = request.send().await.map_err(|e| format!("POST {path}: {e}"))?;
        let status = resp.status().as_u16();
        let location =
            resp.headers().get(reqwest::header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let body = resp.text().await.map_err(|e| format!("POST {path}: {e}"))?;
        if status == 303 && location.starts_with(to) {
            Ok(location)
        } else {
            Err(format!(
                "POST {path}: status {status}, location «{location}»: {}",
                body.chars().take(200).collect::<String>()
            ))
        }
    }

    fn message_text(shared: &Shared) -> String {
        let n = shared.messages.fetch_add(1, Ordering::Relaxed);
        format!(
            "Bonjour, pouvez-vous nous confirmer la date de passage de votre technicien sur ce chantier ? \
             Le maçon termine cette semaine. Merci d'avance. (message {n})"
        )
    }

    /// Does one thing of the role's mix; returns what it did (some actions fall back to
    /// another when there is nothing to act on) and whether the answer was right.
    async fn act(&mut self, shared: &Shared) -> (Action, Result<(), String>) {
        let mix = match self.role {
            Role::Client => CLIENT_MIX,
            Role::Staff => STAFF_MIX,
            Role::Integrator => INTEGRATOR_MIX,
        };
        let action = pick(&mut self.rng, mix);
        match action {
            Action::Reply | Action::NewThread => self.message(shared, action).await,
            Action::Answer => match shared.next_awaiting() {
                Some(thread) => (Action::Answer, self.answer(shared, thread).await),
                None => (Action::BoInbox, self.read(shared, Action::BoInbox).await),
            },
            Action::ThreadView => {
                let company = self.company.clone();
                let thread = match self.conversation {
                    Some((id, _)) if self.rng.gen_bool(0.5) => Some(id),
                    _ => company.as_ref().and_then(|c| {
                        (!c.threads.is_empty()).then(|| c.threads[self.rng.gen_range(0..c.threads.len())])
                    }),
                };
                match thread {
                    Some(id) => {
                        (action, self.get(shared, &format!("/espace/messagerie/{id}"), "id=\"thread-status\"").await)
                    }
                    None => (Action::Inbox, self.read(shared, Action::Inbox).await),
                }
            }
            Action::ApiUpload => (action, self.upload(shared).await),
            _ => (action, self.read(shared, action).await),
        }
    }

    /// The pages and downloads.
    async fn read(&mut self, shared: &Shared, action: Action) -> Result<(), String> {
        let company = self.company.clone();
        let rng = &mut self.rng;
        let site = |rng: &mut StdRng| company.as_ref().map(|c| c.sites[rng.gen_range(0..c.sites.len())]);
        match action {
            Action::Dashboard => self.get(shared, "/espace", "PHASE TRAVAUX").await,
            Action::SiteList => {
                let (_, postcode) = site(rng).ok_or("no site")?;
                let department = &postcode[..2];
                // The department of one of the company's sites, alone or sorted, lists results;
                // the other filters may leave the list empty, and then the count says so.
                let (path, marker) = match rng.gen_range(0..6) {
                    0 => (format!("/espace/chantiers?cp={department}"), "id=\"chantiers-resultats\""),
                    1 => {
                        (format!("/espace/chantiers?cp={department}&tri=date&sens=desc"), "id=\"chantiers-resultats\"")
                    }
                    2 => (format!("/espace/chantiers?cp={department}&page=2"), "class=\"count\""),
                    3 => ("/espace/chantiers?phase=works".to_string(), "class=\"count\""),
                    4 => ("/espace/chantiers?incomplet=1".to_string(), "class=\"count\""),
                    _ => ("/espace/chantiers?statut=scheduled&tri=cp".to_string(), "class=\"count\""),
                };
                self.get(shared, &path, marker).await
            }
            Action::SiteDetail => {
                let (id, _) = site(rng).ok_or("no site")?;
                self.get(shared, &format!("/espace/chantiers/{id}"), "id=\"site-infos\"").await
            }
            Action::SiteDocuments => {
                let (id, _) = site(rng).ok_or("no site")?;
                self.get(shared, &format!("/espace/chantiers/{id}/documents"), "Retour au chantier").await
            }
            Action::Inbox => {
                let path = match rng.gen_range(0..3) {
                    0 => "/espace/messagerie".to_string(),
                    1 => "/espace/messagerie?non-lus=1".to_string(),
                    _ => format!("/espace/messagerie?chantier={}", site(rng).ok_or("no site")?.0),
                };
                self.get(shared, &path, "id=\"m-objet\"").await
            }
            Action::DocumentList => {
                let path = match rng.gen_range(0..3) {
                    0 => "/espace/documents",
                    1 => "/espace/documents/rapports",
                    _ => "/espace/documents?q=rapport",
                };
                self.get(shared, path, "id=\"documents-total\"").await
            }
            Action::Notifications => {
                let path = if rng.gen_bool(0.5) { "/espace/notifications" } else { "/espace/notifications?non-lues=1" };
                self.get(shared, path, "id=\"non-lues\"").await
            }
            Action::Download => {
                let docs = &company.as_ref().ok_or("no company")?.documents;
                let id = *docs.get(rng.gen_range(0..docs.len().max(1))).ok_or("no document")?;
                let path = format!("/espace/documents/{id}/fichier");
                let resp =
                    self.http.get(format!("{}{path}", shared.base)).send().await.map_err(|e| format!("{path}: {e}"))?;
                let status = resp.status().as_u16();
                let body = resp.bytes().await.map_err(|e| format!("{path}: {e}"))?;
                if status == 200 && !body.is_empty() {
                    Ok(())
                } else {
                    Err(format!("{path}: status {status}, {} bytes", body.len()))
                }
            }
            Action::ReadAll | Action::BoReadAll => {
                let to = if action == Action::ReadAll { "/espace/notifications" } else { "/bo/notifications" };
                self.post(shared, "/notifications/tout-lu", Err(Vec::new()), to).await.map(|_| ())
            }
            Action::ClientSearch => {
                let city = shared.cities[rng.gen_range(0..shared.cities.len())];
                let q: String = url::form_urlencoded::byte_serialize(city.as_bytes()).collect();
                self.get(shared, &format!("/bo/clients?q={q}"), "E-mail de facturation").await
            }
            Action::BoInbox => {
                let path = match rng.gen_range(0..4) {
                    0 => "/bo/messagerie",
                    1 => "/bo/messagerie?affecte=moi",
                    2 => "/bo/messagerie?statut=open",
                    _ => "/bo/messagerie?non-lus=1",
                };
                self.get(shared, path, "id=\"m-affecte\"").await
            }
            Action::BoThreadView => {
                let recent = if rng.gen_bool(0.7) { shared.recent_thread(rng) } else { None };
                let id = match recent {
                    Some(id) => id,
                    None => *shared
                        .existing_threads
                        .get(rng.gen_range(0..shared.existing_threads.len().max(1)))
                        .ok_or("no thread")?,
                };
                self.get(shared, &format!("/bo/messagerie/{id}"), "id=\"thread-assigned\"").await
            }
            Action::ApiList => {
                let (secret, sites) = self.api.as_ref().ok_or("no token")?;
                let site = sites[rng.gen_range(0..sites.len())];
                let path = format!("/api/v1/sites/{site}/documents?per_page=20");
                let resp = self
                    .http
                    .get(format!("{}{path}", shared.base))
                    .bearer_auth(secret)
                    .send()
                    .await
                    .map_err(|e| format!("{path}: {e}"))?;
                let status = resp.status().as_u16();
                let counted = resp.headers().contains_key("x-total-count");
                let body = resp.text().await.map_err(|e| format!("{path}: {e}"))?;
                if status == 200 && counted && body.starts_with('[') {
                    Ok(())
                } else {
                    Err(format!("{path}: status {status}: {}", body.chars().take(200).collect::<String>()))
                }
            }
            _ => Err(format!("{} is not a read", action.name())),
        }
    }

    /// A client user's message: the next of the conversation, or the first of a new one about
    /// one of the company's sites.
    async fn message(&mut self, shared: &Shared, wanted: Action) -> (Action, Result<(), String>) {
        let text = Self::message_text(shared);
        match self.conversation {
            Some((thread, left)) if wanted == Action::Reply && left > 0 => {
                let path = format!("/espace/messagerie/{thread}/repondre");
                let form = reqwest::multipart::Form::new().text("message", text);
                let outcome = self.post(shared, &path, Ok(form), &format!("/espace/messagerie/{thread}?")).await;
                self.conversation = Some((thread, left - 1));
                if outcome.is_ok() {
                    shared.awaits_answer(thread);
                }
                (Action::Reply, outcome.map(|_| ()))
            }
            _ => {
                let Some(company) = self.company.clone() else {
                    return (Action::NewThread, Err("no company".into()));
                };
                let (site, _) = company.sites[self.rng.gen_range(0..company.sites.len())];
                let subject = format!("Passage du technicien (chantier {site})");
                let form = reqwest::multipart::Form::new()
                    .text("sujet", subject)
                    .text("message", text)
                    .text("chantier", site.to_string());
                let outcome = self.post(shared, "/espace/messagerie/nouveau", Ok(form), "/espace/messagerie/").await;
                let outcome = outcome.and_then(|location| {
                    location
                        .trim_start_matches("/espace/messagerie/")
                        .split('?')
                        .next()
                        .and_then(|id| id.parse::<i64>().ok())
                        .ok_or_else(|| format!("new thread: no id in «{location}»"))
                });
                match outcome {
                    Ok(thread) => {
                        self.conversation = Some((thread, CONVERSATION - 1));
                        shared.opened(thread);
                        shared.awaits_answer(thread);
                        (Action::NewThread, Ok(()))
                    }
                    Err(e) => (Action::NewThread, Err(e)),
                }
            }
        }
    }

    async fn answer(&self, shared: &Shared, thread: i64) -> Result<(), String> {
        let text = format!(
            "Bonjour, notre technicien passera jeudi matin entre 8 h et 10 h. Bonne journée. (réponse {})",
            shared.messages.fetch_add(1, Ordering::Relaxed)
        );
        let form = reqwest::multipart::Form::new().text("message", text);
        let path = format!("/bo/messagerie/{thread}/repondre");
        self.post(shared, &path, Ok(form), &format!("/bo/messagerie/{thread}?")).await.map(|_| ())
    }

    /// A small PDF published on one of the token's client's sites; each has other bytes.
    async fn upload(&mut self, shared: &Shared) -> Result<(), String> {
        let (secret, sites) = self.api.as_ref().ok_or("no token")?;
        let site = sites[self.rng.gen_range(0..sites.len())];
        let index = shared.uploads.fetch_add(1, Ordering::Relaxed);
        let mut bytes = shared.pdf.clone();
        let tag = format!("{index:012}");
        bytes[load::DOCUMENT_TAG_AT..load::DOCUMENT_TAG_AT + 12].copy_from_slice(tag.as_bytes());
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name(format!("compte-rendu-{index}.pdf"))
            .mime_str("application/pdf")
            .map_err(|e| e.to_string())?;
        let form = reqwest::multipart::Form::new().part("file", part).text("type", "report");
        let path = format!("/api/v1/sites/{site}/documents");
        let resp = self
            .http
            .post(format!("{}{path}", shared.base))
            .bearer_auth(secret)
            .multipart(form)
            .send()
            .await
            .map_err(|e| format!("{path}: {e}"))?;
        let status = resp.status().as_u16();
        let body = resp.text().await.map_err(|e| format!("{path}: {e}"))?;
        if status == 201 {
            Ok(())
        } else {
            Err(format!("{path}: status {status}: {}", body.chars().take(200).collect::<String>()))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The report

#[derive(Serialize, Debug)]
pub struct WindowReport {
    pub index: usize,
    pub from_s: f64,
    pub to_s: f64,
    /// The first window warms the caches and pools up; the verdict does not start there.
    pub warmup: bool,
    pub requests: u64,
    pub errors: u64,
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Mean and largest of the RSS samples taken in the window.
    pub rss_mb: f64,
    pub rss_max_mb: f64,
    /// SQLite: the largest size of the write-ahead log seen in the window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wal_mb: Option<f64>,
}

/// One reading of the process and the database files.
struct Sample {
    at_s: f64,
    rss_mb: f64,
    wal_mb: Option<f64>,
}

fn file_mb(path: &str) -> f64 {
    std::fs::metadata(path).map(|m| m.len() as f64 / 1_000_000.0).unwrap_or(0.0)
}

#[derive(Serialize, Debug)]
pub struct ActionReport {
    pub action: &'static str,
    pub writes: bool,
    pub requests: u64,
    pub errors: u64,
    pub share: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

#[derive(Serialize, Debug)]
pub struct Verdict {
    pub errors_ok: bool,
    pub memory_flat: bool,
    pub latency_flat: bool,
    pub ok: bool,
    pub memory_rule: String,
    pub latency_rule: String,
}

/// A count or size before and after the run.
#[derive(Serialize, Debug, Default, Clone, Copy)]
pub struct Change<T> {
    pub before: T,
    pub after: T,
}

/// Rows and files before and after the run: what the workload wrote.
#[derive(Serialize, Debug, Default)]
pub struct Growth {
    pub threads: Change<i64>,
    pub messages: Change<i64>,
    pub documents: Change<i64>,
    pub notifications: Change<i64>,
    /// SQLite only: the database and its write-ahead log, in MB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db_file_mb: Option<Change<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wal_file_mb: Option<Change<f64>>,
}

#[derive(Serialize, Debug)]
pub struct SoakReport {
    pub scenario: &'static str,
    pub engine: &'static str,
    pub scale: &'static str,
    pub concurrency: usize,
    /// Connections per role: client users, office staff, integrators' software.
    pub clients: usize,
    pub staff: usize,
    pub integrators: usize,
    pub seconds: f64,
    pub window_seconds: f64,
    pub requests: u64,
    pub errors: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub error_samples: Vec<String>,
    pub rps: f64,
    pub write_share: f64,
    pub actions: Vec<ActionReport>,
    pub windows: Vec<WindowReport>,
    pub rss_start_mb: f64,
    pub rss_end_mb: f64,
    pub rss_max_mb: f64,
    pub p50_first_ms: f64,
    pub p50_last_ms: f64,
    pub p99_first_ms: f64,
    pub p99_last_ms: f64,
    pub rps_first: f64,
    pub rps_last: f64,
    pub growth: Growth,
    pub verdict: Verdict,
}

// ---------------------------------------------------------------------------------------------
// Set-up

type Rows = Vec<(i64, i64)>;

async fn fetch_pairs(db: &Db, sql: &'static str, bound: i64) -> Result<Rows, sqlx::Error> {
    crate::on_db!(db, |p| sqlx::query_as(sql).bind(bound).fetch_all(p).await)
}

async fn count(db: &Db, table: &str) -> Result<i64, sqlx::Error> {
    let sql = format!("SELECT COUNT(*) FROM {table}");
    crate::on_db!(db, |p| sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone())).fetch_one(p).await)
}

async fn counts(db: &Db) -> Result<[i64; 4], sqlx::Error> {
    Ok([
        count(db, "threads").await?,
        count(db, "messages").await?,
        count(db, "documents").await?,
        count(db, "notifications").await?,
    ])
}

/// The SQLite database file and its WAL, in MB.
fn file_sizes(database_url: &str) -> Option<(f64, f64)> {
    let path = database_url.strip_prefix("sqlite://")?;
    Some((file_mb(path), file_mb(&format!("{path}-wal"))))
}

/// What the big companies' users act on, from the generated database.
async fn companies(db: &Db, generated: &Generated) -> anyhow::Result<Vec<Arc<Company>>> {
    let big = generated.big_clients.max(1);
    let threads = fetch_pairs(
        db,
        "SELECT id, client_id FROM threads WHERE tenant_id = 1 AND site_id IS NOT NULL AND client_id <= $1 ORDER BY id",
        big as i64,
    )
    .await?;
    // Invoices are left out: plain client users may not see them.
    let documents = fetch_pairs(
        db,
        "SELECT id, client_id FROM documents
         WHERE tenant_id = 1 AND client_id <= $1 AND document_type <> 'invoice' AND published_as <> 'invoice'
         ORDER BY CASE WHEN published_as = 'report' THEN 0 ELSE 1 END, id",
        big as i64,
    )
    .await?;
    let mut out = Vec::with_capacity(big);
    for c in 1..=big {
        let of = |rows: &Rows, keep: usize| -> Vec<i64> {
            rows.iter().filter(|(_, client)| *client == c as i64).map(|(id, _)| *id).take(keep).collect()
        };
        let sites = generated.sites_by_client.get(c - 1).cloned().unwrap_or_default();
        anyhow::ensure!(!sites.is_empty(), "big company {c} has no site");
        out.push(Arc::new(Company { sites, threads: of(&threads, usize::MAX), documents: of(&documents, 500) }));
    }
    Ok(out)
}

/// Sites of each integrator token's client (uploads are spread over up to 50 of them).
async fn token_sites(db: &Db, generated: &Generated, n: usize) -> anyhow::Result<Vec<(String, Arc<Vec<i64>>)>> {
    let mut out = Vec::new();
    for (secret, site) in generated.api_secrets.iter().zip(&generated.api_sites).take(n) {
        let rows = fetch_pairs(
            db,
            "SELECT s.id, s.client_id FROM sites s
             WHERE s.tenant_id = 1 AND s.archived = FALSE AND s.kind <> 'dwelling'
               AND s.client_id = (SELECT client_id FROM sites WHERE id = $1)
             ORDER BY s.id LIMIT 50",
            *site,
        )
        .await?;
        let mut sites: Vec<i64> = rows.into_iter().map(|(id, _)| id).collect();
        if sites.is_empty() {
            sites.push(*site);
        }
        out.push((secret.clone(), Arc::new(sites)));
    }
    anyhow::ensure!(!out.is_empty(), "no integrator token in the generated data");
    Ok(out)
}

/// Logs a user in through the form and reads the CSRF token of their forms on `home`.
async fn session(base: &str, email: &str, home: &str) -> anyhow::Result<(reqwest::Client, String)> {
    let http = load::login(base, email, PASSWORD).await?;
    let page = http.get(format!("{base}{home}")).send().await?.text().await?;
    let csrf = csrf_of(&page).ok_or_else(|| anyhow::anyhow!("no CSRF token on {home} for {email}"))?;
    Ok((http, csrf))
}

fn roles(concurrency: usize) -> (usize, usize, usize) {
    let integrators = (concurrency / 20).max(1);
    let staff = (concurrency * 3 / 20).max(1);
    (concurrency.saturating_sub(integrators + staff), staff, integrators)
}

// ---------------------------------------------------------------------------------------------
// The run

pub async fn run(
    base: &str,
    generated: &Generated,
    database_url: &str,
    settings: SoakSettings,
    engine: &'static str,
    scale: &'static str,
) -> anyhow::Result<SoakReport> {
    anyhow::ensure!(settings.concurrency >= 3, "--soak-concurrency : au moins 3 connexions (une par rôle)");
    anyhow::ensure!(settings.seconds >= WINDOWS as f64, "--soak-secs : au moins {WINDOWS} secondes");
    let (n_clients, n_staff, n_integrators) = roles(settings.concurrency);

    let db = Db::connect(database_url).await?;
    let companies = companies(&db, generated).await?;
    let tokens = token_sites(&db, generated, n_integrators).await?;
    let before = counts(&db).await?;
    let files_before = file_sizes(database_url);

    // Every connection logs in on its own (several sessions per user when there are more
    // connections than users), two logins at a time: argon2 is deliberately slow.
    let client_emails: Vec<String> = super::client_session_emails(generated, generated.client_user_emails.len())
        .into_iter()
        .filter(|e| super::client_of(e) <= companies.len())
        .map(str::to_string)
        .collect();
    anyhow::ensure!(!client_emails.is_empty() && !generated.staff_emails.is_empty(), "no user to log in as");
    println!(
        "soak : connexion de {n_clients} utilisateurs clients, {n_staff} membres du bureau, {n_integrators} intégrateurs…"
    );
    let logins: Vec<(Role, String)> = (0..n_clients)
        .map(|i| (Role::Client, client_emails[i % client_emails.len()].clone()))
        .chain((0..n_staff).map(|i| (Role::Staff, generated.staff_emails[i % generated.staff_emails.len()].clone())))
        .collect();
    let sessions: Vec<anyhow::Result<(Role, String, reqwest::Client, String)>> = futures::stream::iter(logins)
        .map(|(role, email)| async move {
            let home = if role == Role::Client { "/espace" } else { "/bo" };
            let (http, csrf) = session(base, &email, home).await?;
            Ok::<_, anyhow::Error>((role, email, http, csrf))
        })
        .buffered(2)
        .collect()
        .await;

    let shared = Arc::new(Shared {
        base: base.to_string(),
        awaiting: Mutex::new(VecDeque::new()),
        recent: Mutex::new(VecDeque::new()),
        existing_threads: companies.iter().flat_map(|c| c.threads.iter().copied()).collect(),
        cities: generated.cities.clone(),
        pdf: load::bench_pdf(PDF_BYTES),
        uploads: AtomicU64::new(0),
        messages: AtomicU64::new(0),
    });
    let mut workers = Vec::with_capacity(settings.concurrency);
    for (i, s) in sessions.into_iter().enumerate() {
        let (role, email, http, csrf) = s?;
        let company = (role == Role::Client).then(|| companies[super::client_of(&email) - 1].clone());
        workers.push(Worker {
            http,
            role,
            csrf,
            company,
            api: None,
            conversation: None,
            rng: StdRng::seed_from_u64(1_000 + i as u64),
        });
    }
    for i in 0..n_integrators {
        workers.push(Worker {
            http: load::http_client(),
            role: Role::Integrator,
            csrf: String::new(),
            company: None,
            api: Some(tokens[i % tokens.len()].clone()),
            conversation: None,
            rng: StdRng::seed_from_u64(9_000 + i as u64),
        });
    }

    let total = Duration::from_secs_f64(settings.seconds);
    let window = total / WINDOWS as u32;
    let stats = Arc::new(Stats {
        start: Instant::now(),
        window,
        windows: (0..WINDOWS).map(|_| (Histogram::new(), AtomicU64::new(0))).collect(),
        actions: Action::ALL.iter().map(|_| (Histogram::new(), AtomicU64::new(0))).collect(),
        samples: Mutex::new(Vec::new()),
    });
    let end = stats.start + total;
    println!(
        "soak : {} connexions pendant {:.0} s ({} fenêtres de {:.0} s, la première pour la mise en température)",
        workers.len(),
        settings.seconds,
        WINDOWS,
        window.as_secs_f64()
    );

    // The RSS sampler, which also says where the run is at the end of each window.
    let sampler = {
        let stats = stats.clone();
        let wal = database_url.strip_prefix("sqlite://").map(|path| format!("{path}-wal"));
        let every = (window / 12).clamp(Duration::from_millis(100), Duration::from_secs(5));
        tokio::spawn(async move {
            let pid = std::process::id();
            let mut samples: Vec<Sample> = Vec::new();
            let mut announced = 0;
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let now = Instant::now();
                if now >= end {
                    break;
                }
                samples.push(Sample {
                    at_s: now.duration_since(stats.start).as_secs_f64(),
                    rss_mb: super::resources::rss_mb(pid, "VmRSS:"),
                    wal_mb: wal.as_deref().map(file_mb),
                });
                let current = stats.window_of(now);
                while announced < current {
                    let (hist, errors) = &stats.windows[announced];
                    let counts = hist.snapshot();
                    println!(
                        "  fenêtre {}/{WINDOWS} : {:.0} req/s, p99 {:.1} ms, RSS {:.1} Mo, erreurs {}",
                        announced + 1,
                        counts.total() as f64 / stats.window.as_secs_f64(),
                        counts.quantile_ms(0.99),
                        samples.last().map(|s| s.rss_mb).unwrap_or(0.0),
                        errors.load(Ordering::Relaxed)
                    );
                    announced += 1;
                }
            }
            samples
        })
    };

    let mut handles = Vec::with_capacity(workers.len());
    for mut worker in workers {
        let shared = shared.clone();
        let stats = stats.clone();
        handles.push(tokio::spawn(async move {
            loop {
                let sent = Instant::now();
                if sent >= end {
                    break;
                }
                let (action, outcome) = worker.act(&shared).await;
                stats.record(sent, action, outcome);
            }
        }));
    }
    for h in handles {
        h.await?;
    }
    let samples = sampler.await?;
    let after = counts(&db).await?;
    let files_after = file_sizes(database_url);
    db.close().await;

    Ok(report(
        &stats,
        &samples,
        settings,
        (n_clients, n_staff, n_integrators),
        engine,
        scale,
        Growth {
            threads: Change { before: before[0], after: after[0] },
            messages: Change { before: before[1], after: after[1] },
            documents: Change { before: before[2], after: after[2] },
            notifications: Change { before: before[3], after: after[3] },
            db_file_mb: files_before.zip(files_after).map(|(b, a)| Change { before: b.0, after: a.0 }),
            wal_file_mb: files_before.zip(files_after).map(|(b, a)| Change { before: b.1, after: a.1 }),
        },
    ))
}

fn report(
    stats: &Stats,
    samples: &[Sample],
    settings: SoakSettings,
    (clients, staff, integrators): (usize, usize, usize),
    engine: &'static str,
    scale: &'static str,
    growth: Growth,
) -> SoakReport {
    let secs = stats.window.as_secs_f64();
    let window_counts: Vec<Counts> = stats.windows.iter().map(|(h, _)| h.snapshot()).collect();
    let windows: Vec<WindowReport> = window_counts
        .iter()
        .zip(&stats.windows)
        .enumerate()
        .map(|(i, (c, (_, errors)))| {
            let (from, to) = (i as f64 * secs, (i + 1) as f64 * secs);
            let in_window: Vec<&Sample> = samples.iter().filter(|s| s.at_s >= from && s.at_s < to).collect();
            let rss: Vec<f64> = in_window.iter().map(|s| s.rss_mb).collect();
            WindowReport {
                index: i,
                from_s: from,
                to_s: to,
                warmup: i == 0,
                requests: c.total(),
                errors: errors.load(Ordering::Relaxed),
                rps: c.total() as f64 / secs,
                p50_ms: c.quantile_ms(0.50),
                p99_ms: c.quantile_ms(0.99),
                max_ms: c.max_us as f64 / 1000.0,
                rss_mb: if rss.is_empty() { 0.0 } else { rss.iter().sum::<f64>() / rss.len() as f64 },
                rss_max_mb: rss.iter().copied().fold(0.0, f64::max),
                wal_mb: in_window.iter().filter_map(|s| s.wal_mb).reduce(f64::max),
            }
        })
        .collect();
    let merged = |range: std::ops::Range<usize>| {
        let mut m = Counts::empty();
        for c in &window_counts[range] {
            m.add(c);
        }
        m
    };
    // The first two windows after the warm-up against the last two.
    let first = merged(1..3);
    let last = merged(WINDOWS - 2..WINDOWS);
    let (p50_first, p50_last) = (first.quantile_ms(0.5), last.quantile_ms(0.5));
    let (p99_first, p99_last) = (first.quantile_ms(0.99), last.quantile_ms(0.99));
    let rss_start = windows[1].rss_mb;
    let rss_end = windows[WINDOWS - 1].rss_mb;

    let all = merged(0..WINDOWS);
    let requests = all.total();
    let errors: u64 = stats.windows.iter().map(|(_, e)| e.load(Ordering::Relaxed)).sum();
    let actions: Vec<ActionReport> = Action::ALL
        .iter()
        .zip(&stats.actions)
        .map(|(a, (h, e))| {
            let c = h.snapshot();
            ActionReport {
                action: a.name(),
                writes: a.writes(),
                requests: c.total(),
                errors: e.load(Ordering::Relaxed),
                share: if requests > 0 { c.total() as f64 / requests as f64 } else { 0.0 },
                p50_ms: c.quantile_ms(0.5),
                p99_ms: c.quantile_ms(0.99),
                max_ms: c.max_us as f64 / 1000.0,
            }
        })
        .filter(|a| a.requests + a.errors > 0)
        .collect();
    let write_share = actions.iter().filter(|a| a.writes).map(|a| a.share).sum();

    let memory_flat = rss_end <= rss_start * MEMORY_FACTOR + MEMORY_ALLOWANCE_MB;
    let latency_flat = p99_last <= p99_first * LATENCY_FACTOR && p50_last <= p50_first * LATENCY_FACTOR;
    let errors_ok = errors == 0 && requests > 0;
    SoakReport {
        scenario: "soak",
        engine,
        scale,
        concurrency: settings.concurrency,
        clients,
        staff,
        integrators,
        seconds: settings.seconds,
        window_seconds: secs,
        requests,
        errors,
        error_samples: stats.samples.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        rps: requests as f64 / settings.seconds,
        write_share,
        actions,
        rss_start_mb: rss_start,
        rss_end_mb: rss_end,
        rss_max_mb: samples.iter().map(|s| s.rss_mb).fold(0.0, f64::max),
        p50_first_ms: p50_first,
        p50_last_ms: p50_last,
        p99_first_ms: p99_first,
        p99_last_ms: p99_last,
        rps_first: first.total() as f64 / (2.0 * secs),
        rps_last: last.total() as f64 / (2.0 * secs),
        windows,
        growth,
        verdict: Verdict {
            errors_ok,
            memory_flat,
            latency_flat,
            ok: errors_ok && memory_flat && latency_flat,
            memory_rule: format!(
                "mean RSS of the last window <= {MEMORY_FACTOR} x that of window 2 (the first after the warm-up) + {MEMORY_ALLOWANCE_MB} MB"
            ),
            latency_rule: format!(
                "p50 and p99 of the last two windows <= {LATENCY_FACTOR} x those of windows 2-3 (the first two after the warm-up)"
            ),
        },
    }
}

/// Prints the report: actions, windows, growth, verdict.
pub fn print(r: &SoakReport) {
    println!();
    println!(
        "soak ({}, {}) : {} connexions ({} clients, {} bureau, {} intégrateurs), {:.0} s, {} requêtes ({:.0} req/s, {:.1} % d'écritures), {} erreurs",
        r.engine,
        r.scale,
        r.concurrency,
        r.clients,
        r.staff,
        r.integrators,
        r.seconds,
        r.requests,
        r.rps,
        r.write_share * 100.0,
        r.errors
    );
    println!(
        "  {:<28} {:>9} {:>7} {:>8} {:>8} {:>9} {:>7}",
        "action", "requêtes", "part %", "p50 ms", "p99 ms", "max ms", "erreurs"
    );
    for a in &r.actions {
        println!(
            "  {:<28} {:>9} {:>7.1} {:>8.1} {:>8.1} {:>9.1} {:>7}",
            a.action,
            a.requests,
            a.share * 100.0,
            a.p50_ms,
            a.p99_ms,
            a.max_ms,
            a.errors
        );
    }
    println!(
        "  {:<10} {:>9} {:>8} {:>8} {:>9} {:>9} {:>9} {:>7}",
        "fenêtre", "req/s", "p50 ms", "p99 ms", "max ms", "RSS Mo", "WAL Mo", "erreurs"
    );
    for w in &r.windows {
        println!(
            "  {:<10} {:>9.0} {:>8.1} {:>8.1} {:>9.1} {:>9.1} {:>9} {:>7}",
            format!("{}{}", w.index + 1, if w.warmup { " (chauffe)" } else { "" }),
            w.rps,
            w.p50_ms,
            w.p99_ms,
            w.max_ms,
            w.rss_mb,
            w.wal_mb.map(|mb| format!("{mb:.0}")).unwrap_or_else(|| "—".into()),
            w.errors
        );
    }
    let g = &r.growth;
    println!(
        "  lignes ajoutées : {} conversations, {} messages, {} documents, {} notifications",
        g.threads.after - g.threads.before,
        g.messages.after - g.messages.before,
        g.documents.after - g.documents.before,
        g.notifications.after - g.notifications.before
    );
    if let (Some(db), Some(wal)) = (g.db_file_mb, g.wal_file_mb) {
        println!("  fichier SQLite {:.0} → {:.0} Mo, WAL {:.1} → {:.1} Mo", db.before, db.after, wal.before, wal.after);
    }
    for e in &r.error_samples {
        println!("  ERREUR {e}");
    }
    let yes = |b: bool| if b { "OK" } else { "ÉCHEC" };
    println!(
        "  verdict : erreurs {} ; mémoire {} (RSS {:.1} → {:.1} Mo, pic {:.1}) ; latence {} (p50 {:.1} → {:.1} ms, p99 {:.1} → {:.1} ms)",
        yes(r.verdict.errors_ok),
        yes(r.verdict.memory_flat),
        r.rss_start_mb,
        r.rss_end_mb,
        r.rss_max_mb,
        yes(r.verdict.latency_flat),
        r.p50_first_ms,
        r.p50_last_ms,
        r.p99_first_ms,
        r.p99_last_ms
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_keep_values_within_their_precision() {
        for us in [0u64, 1, 63, 64, 65, 127, 128, 1_000, 12_345, 999_999, 60_000_000, u32::MAX as u64] {
            let top = bucket_top(bucket_of(us));
            assert!(top >= us, "{us} -> {top}");
            assert!((top - us) as f64 <= us as f64 / 64.0 + 1.0, "{us} -> {top}");
        }
        assert!(bucket_of(u32::MAX as u64) < BUCKETS);
        assert!(bucket_of(u64::MAX) < BUCKETS);
    }

    #[test]
    fn quantiles_come_from_the_counts() {
        let h = Histogram::new();
        for ms in 1..=100u64 {
            h.record(ms * 1000);
        }
        let c = h.snapshot();
        assert_eq!(c.total(), 100);
        let p50 = c.quantile_ms(0.5);
        let p99 = c.quantile_ms(0.99);
        assert!((50.0..=51.0).contains(&p50), "{p50}");
        assert!((99.0..=100.0).contains(&p99), "{p99}");
        assert_eq!(c.quantile_ms(1.0), 100.0);
    }

    #[test]
    fn roles_split_the_connections() {
        assert_eq!(roles(200), (160, 30, 10));
        assert_eq!(roles(3), (1, 1, 1));
    }
}
