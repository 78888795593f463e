//! `ouvrage bench`: generates a believable firm at scale, starts the real server, drives it
//! with a closed-loop load generator, measures start-up and memory, and reports a table and a
//! JSON file with stable keys so that commits can be compared.

pub mod data;
pub mod load;
mod resources;
pub mod signing;
mod soak;
pub mod xlsx;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use clap::Args;
use rand::Rng;
use serde::Serialize;
use tokio::sync::watch;

use crate::app::Application;
use crate::config::{Config, ConfigArgs};
use crate::db::Db;
use data::{Generated, Scale};
use load::{As, LoadResult, LoadSettings, Request, Scenario};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Engine {
    Sqlite,
    Postgres,
}

#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// Database engine to measure; PostgreSQL uses the server named by DATABASE_URL and creates
    /// (then drops) a database of its own there.
    #[arg(long, value_enum, default_value = "sqlite")]
    pub database: Engine,
    /// Data size: tiny (smoke test), medium (the budgets), large (10× medium).
    #[arg(long, value_enum, default_value = "medium")]
    pub scale: Scale,
    /// Run only the scenarios whose name contains this text (the baseline always runs).
    #[arg(long)]
    pub only: Option<String>,
    /// Write the JSON report here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Concurrent sessions of the load generator [default: 32; tiny: 8].
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Measured seconds per scenario [default: 10; tiny: 1].
    #[arg(long)]
    pub duration: Option<f64>,
    /// Warm-up seconds per scenario, not measured [default: 2; tiny: 0.3].
    #[arg(long)]
    pub warmup: Option<f64>,
    /// Keep the generated data directory instead of deleting it.
    #[arg(long)]
    pub keep: bool,
    /// Length of the soak run in seconds (`--only soak`, never part of the default run).
    #[arg(long, default_value_t = 600)]
    pub soak_secs: u64,
    /// Concurrent connections of the soak run: client users, office staff and integrators.
    #[arg(long, default_value_t = 200)]
    pub soak_concurrency: usize,
}

#[derive(Serialize)]
struct ScenarioReport {
    scenario: &'static str,
    engine: &'static str,
    scale: &'static str,
    concurrency: usize,
    #[serde(flatten)]
    result: LoadResult,
    ratio_to_baseline: f64,
}

#[derive(Serialize)]
struct BudgetReport {
    budget: String,
    limit: f64,
    value: f64,
    unit: &'static str,
    ok: bool,
}

#[derive(Serialize)]
struct Report {
    engine: &'static str,
    scale: &'static str,
    commit: Option<String>,
    machine: resources::Machine,
    generation_seconds: f64,
    rows: std::collections::BTreeMap<&'static str, usize>,
    resources: resources::Resources,
    #[serde(skip_serializing_if = "Option::is_none")]
    digests: Option<crate::features::notifications::bench::DigestBench>,
    #[serde(skip_serializing_if = "Option::is_none")]
    xlsx_writer: Option<xlsx::WriterBench>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seal_pdf: Option<signing::SealBench>,
    #[serde(skip_serializing_if = "Option::is_none")]
    soak: Option<soak::SoakReport>,
    scenarios: Vec<ScenarioReport>,
    budgets: Vec<BudgetReport>,
}

/// The client users the load sessions log in as: users of the big companies (a thousand
/// chantiers each at medium scale), taken in turn so that pages are not all one company's.
pub(crate) fn client_session_emails(generated: &Generated, n: usize) -> Vec<&str> {
    let big = generated.big_clients.max(1);
    let mut by_client: Vec<Vec<&str>> = vec![Vec::new(); big];
    for e in &generated.client_user_emails {
        let c = client_of(e);
        if (1..=big).contains(&c) {
            by_client[c - 1].push(e.as_str());
        }
    }
    let mut out = Vec::with_capacity(n);
    let mut round = 0;
    while out.len() < n && by_client.iter().any(|u| u.len() > round) {
        for users in &by_client {
            if let Some(e) = users.get(round)
                && out.len() < n
            {
                out.push(*e);
            }
        }
        round += 1;
    }
    out
}

/// The client id in a generated e-mail `user{i}@client{c}.bench.test`.
fn client_of(email: &str) -> usize {
    email.split("@client").nth(1).and_then(|r| r.split('.').next()).and_then(|c| c.parse().ok()).unwrap_or(1)
}

/// A page scenario at the run's concurrency.
fn page(name: &'static str, who: As, path: load::PathFn, marker: &'static str) -> Scenario {
    Scenario { name, who, request: Request::Page { path, marker }, concurrency: None }
}

fn scenarios(generated: &Generated, concurrency: usize) -> Vec<Scenario> {
    let cities: Arc<Vec<&'static str>> = Arc::new(generated.cities.clone());
    // Each client session's own sites, in session order.
    let own_sites: Arc<Vec<Vec<(i64, &'static str)>>> = Arc::new(
        client_session_emails(generated, concurrency)
            .into_iter()
            .map(|e| generated.sites_by_client[client_of(e) - 1].clone())
            .collect(),
    );
    let for_list = own_sites.clone();
    vec![
        page("healthz", As::Anonymous, Arc::new(|_, _| "/healthz".into()), "ok"),
        page("login_page", As::Anonymous, Arc::new(|_, _| "/login".into()), "Se connecter"),
        page("extranet_dashboard", As::ClientUser, Arc::new(|_, _| "/espace".into()), "PHASE TRAVAUX"),
        page(
            "mes_chantiers_postcode",
            As::ClientUser,
            // A department where the session's company has sites: the list is never empty.
            Arc::new(move |rng, session| {
                let sites = &for_list[session];
                let (_, postcode) = sites[rng.gen_range(0..sites.len())];
                format!("/espace/chantiers?cp={}", &postcode[..2])
            }),
            "id=\"chantiers-resultats\"",
        ),
        page(
            "site_detail",
            As::ClientUser,
            Arc::new(move |rng, session| {
                let sites = &own_sites[session];
                format!("/espace/chantiers/{}", sites[rng.gen_range(0..sites.len())].0)
            }),
            "id=\"site-infos\"",
        ),
        page(
            "bo_client_search",
            As::Staff,
            Arc::new(move |rng, _| {
                format!(
                    "/bo/clients?q={}",
                    url::form_urlencoded::byte_serialize(cities[rng.gen_range(0..cities.len())].as_bytes())
                        .collect::<String>()
                )
            }),
            "E-mail de facturation",
        ),
        // Integrators' software sending new studies: each creates its chantier.
        Scenario {
            name: "thermal_import",
            who: As::Integrator,
            request: Request::Study {
                secrets: Arc::new(generated.api_secrets.clone()),
                next: Arc::new(AtomicU64::new(0)),
            },
            concurrency: None,
        },
        // Report software publishing 1 MB PDFs on its client's sites (bytes stored, rows,
        // notifications).
        Scenario {
            name: "document_upload",
            who: As::Integrator,
            request: Request::Document {
                secrets: Arc::new(generated.api_secrets.clone()),
                sites: Arc::new(generated.api_sites.clone()),
                pdf: Arc::new(load::bench_pdf(1024 * 1024)),
                next: Arc::new(AtomicU64::new(0)),
            },
            concurrency: None,
        },
        // The second firm's office exporting all its sites, one export at a time.
        Scenario {
            name: "sites_export",
            who: As::ExportOffice,
            request: Request::Xlsx { path: Arc::new(|_, _| "/bo/chantiers/export.xlsx?tout=1".into()) },
            concurrency: Some(1),
        },
    ]
}

pub async fn run(args: BenchArgs) -> anyhow::Result<bool> {
    let scale = args.scale;
    let tiny = scale == Scale::Tiny;
    let settings = LoadSettings {
        concurrency: args.concurrency.unwrap_or(if tiny { 8 } else { 32 }),
        warmup: Duration::from_secs_f64(args.warmup.unwrap_or(if tiny { 0.3 } else { 2.0 })),
        duration: Duration::from_secs_f64(args.duration.unwrap_or(if tiny { 1.0 } else { 10.0 })),
    };
    let workdir = tempfile::Builder::new().prefix("ouvrage-bench-").tempdir()?;
    let (database_url, pg_cleanup) = match args.database {
        Engine::Sqlite => (format!("sqlite://{}", workdir.path().join("ouvrage.db").display()), None),
        Engine::Postgres => {
            let server = std::env::var("DATABASE_URL").map_err(|_| {
                anyhow::anyhow!("--database postgres demande DATABASE_URL=postgres://… (serveur PostgreSQL)")
            })?;
            let (url, name) = resources::create_postgres_database(&server).await?;
            (url, Some((server, name)))
        }
    };
    let engine_name = match args.database {
        Engine::Sqlite => "sqlite",
        Engine::Postgres => "postgres",
    };
    let config = Config::load(&ConfigArgs {
        addr: Some("127.0.0.1:0".parse()?),
        data: Some(workdir.path().to_path_buf()),
        database_url: Some(database_url.clone()),
        ..Default::default()
    })?;
    println!("ouvrage bench — moteur {engine_name}, échelle {}", scale.name());

    let db = Db::connect(&database_url).await?;
    crate::db::migrate(&db).await?;
    let store = crate::features::files::FileStore::from_config(&config.storage)?;
    let generated = data::generate(&db, scale, &store).await?;
    db.close().await;
    println!("données générées en {:.1} s : {:?}", generated.seconds, generated.rows);

    // Start-up and memory are measured on a separate `ouvrage serve` process, so that the load
    // generator's own memory does not count.
    let resources = resources::measure(&config, &generated, settings).await?;
    println!(
        "démarrage {:.0} ms, mémoire au repos {:.1} Mo, pic sous charge {:.1} Mo",
        resources.startup_ms, resources.idle_rss_mb, resources.peak_rss_mb
    );

    // The load itself runs against the server started in this process.
    let app = Application::build(config.clone()).await?;
    let base = format!("http://{}", app.local_addr());
    let (stop, stop_rx) = watch::channel(false);
    let server = tokio::spawn(app.run(Some(stop_rx)));
    let sessions = Sessions::open(&base, &generated, settings.concurrency).await?;

    let mut reports: Vec<ScenarioReport> = Vec::new();
    let mut baseline_rps = 0.0;
    let mut all_ok = true;
    println!();
    println!(
        "{:<24} {:>9} {:>8} {:>8} {:>8} {:>8} {:>7} {:>7}",
        "scénario", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "ratio", "erreurs"
    );
    for scenario in scenarios(&generated, settings.concurrency) {
        let selected = scenario.name == "healthz" || args.only.as_deref().is_none_or(|o| scenario.name.contains(o));
        if !selected {
            continue;
        }
        let result = load::run(&base, &scenario, sessions.for_role(scenario.who), settings).await;
        if scenario.name == "healthz" {
            baseline_rps = result.rps;
        }
        let ratio = if baseline_rps > 0.0 { result.rps / baseline_rps } else { 0.0 };
        let ok = result.errors == 0 && result.requests > 0;
        all_ok &= ok;
        println!(
            "{:<24} {:>9.0} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>7.2} {:>7}{}",
            scenario.name,
            result.rps,
            result.p50_ms,
            result.p90_ms,
            result.p99_ms,
            result.max_ms,
            ratio,
            result.errors,
            if ok {
                String::new()
            } else {
                format!("  ÉCHEC: {}", result.first_error.clone().unwrap_or_else(|| "aucune réponse".into()))
            }
        );
        reports.push(ScenarioReport {
            scenario: scenario.name,
            engine: engine_name,
            scale: scale.name(),
            concurrency: settings.concurrency,
            result,
            ratio_to_baseline: ratio,
        });
    }
    // The soak runs only when asked for by its exact name: it takes ten minutes.
    let soak = if args.only.as_deref() == Some("soak") {
        let settings = soak::SoakSettings { seconds: args.soak_secs as f64, concurrency: args.soak_concurrency };
        let r = soak::run(&base, &generated, &database_url, settings, engine_name, scale.name()).await?;
        soak::print(&r);
        all_ok &= r.verdict.errors_ok;
        Some(r)
    } else {
        None
    };
    let _ = stop.send(true);
    let _ = server.await;

    // Digest composition, on a state without workers so that no mail is sent meanwhile.
    let digests = if args.only.as_deref().is_none_or(|o| "digests".contains(o)) {
        let users = match scale {
            Scale::Tiny => 200,
            Scale::Medium => 50_000,
            Scale::Large => 500_000,
        };
        let db = Db::connect(&database_url).await?;
        let state = crate::app::AppState::new(config.clone(), db).await?;
        let d = crate::features::notifications::bench::bench_digests(&state, users).await?;
        state.db.close().await;
        let ok = d.stats.mailed > 0;
        all_ok &= ok;
        println!(
            "{:<24} {} utilisateurs, {} notifications : composés en {:.2} s{}",
            "digests",
            d.users,
            d.notifications,
            d.compose_seconds,
            if ok { "" } else { "  ÉCHEC: aucun e-mail composé" }
        );
        Some(d)
    } else {
        None
    };

    // Our .xlsx writer alone (no database, no HTTP), for the side-by-side with the peers.
    let xlsx_writer = if args.only.as_deref().is_none_or(|o| "xlsx_writer".contains(o)) {
        let w = tokio::task::spawn_blocking(|| xlsx::bench_writer(xlsx::ROWS)).await??;
        println!(
            "{:<24} {} lignes écrites en {:.2} s ({:.1} Mo)",
            "xlsx_writer",
            w.rows,
            w.seconds,
            w.bytes as f64 / 1_000_000.0
        );
        Some(w)
    } else {
        None
    };

    // Sealing a signed justificatif alone (no database, no HTTP).
    let seal_pdf = if args.only.as_deref().is_none_or(|o| "seal_pdf".contains(o)) {
        let runs = if tiny { 20 } else { signing::RUNS };
        let s = tokio::task::spawn_blocking(move || signing::bench_seal(runs)).await??;
        println!(
            "{:<24} PDF de {} pages scellé {} fois : p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            "seal_pdf", s.pages, s.runs, s.p50_ms, s.p99_ms, s.max_ms
        );
        Some(s)
    } else {
        None
    };

    let mut budgets = budgets(args.database, &generated, &resources, &reports, digests.as_ref(), scale);
    if let Some(s) = &seal_pdf {
        budgets.push(BudgetReport {
            budget: format!("seal a {}-page PDF p99", s.pages),
            limit: 100.0,
            value: s.p99_ms,
            unit: "ms",
            ok: s.p99_ms <= 100.0,
        });
    }
    if let Some(s) = &soak {
        budgets.push(BudgetReport {
            budget: "soak errors".into(),
            limit: 0.0,
            value: s.errors as f64,
            unit: "",
            ok: s.verdict.errors_ok,
        });
        budgets.push(BudgetReport {
            budget: "soak RSS, last window / first after warm-up".into(),
            limit: s.rss_start_mb * soak::MEMORY_FACTOR + soak::MEMORY_ALLOWANCE_MB,
            value: s.rss_end_mb,
            unit: "MB",
            ok: s.verdict.memory_flat,
        });
        budgets.push(BudgetReport {
            budget: "soak p50 and p99 drift, last windows / first".into(),
            limit: soak::LATENCY_FACTOR,
            value: (s.p50_last_ms / s.p50_first_ms.max(0.001)).max(s.p99_last_ms / s.p99_first_ms.max(0.001)),
            unit: "×",
            ok: s.verdict.latency_flat,
        });
    }
    println!();
    println!("Budgets ({}):", if scale == Scale::Medium { "échelle medium" } else { "indicatifs hors échelle medium" });
    for b in &budgets {
        println!(
            "  {:<48} {:>10.2} {:<4} (limite {:.2}) {}",
            b.budget,
            b.value,
            b.unit,
            b.limit,
            if b.ok { "OK" } else { "DÉPASSÉ" }
        );
    }
    let report = Report {
        engine: engine_name,
        scale: scale.name(),
        commit: resources::git_commit(),
        machine: resources::Machine::read(),
        generation_seconds: generated.seconds,
        rows: generated.rows.clone(),
        resources,
        digests,
        xlsx_writer,
        seal_pdf,
        soak,
        scenarios: reports,
        budgets,
    };
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)?;
        println!("rapport JSON : {}", path.display());
    }
    if let Some((server, name)) = pg_cleanup {
        resources::drop_postgres_database(&server, &name).await?;
    }
    if args.keep {
        println!("données conservées dans {}", workdir.keep().display());
    }
    if !all_ok {
        println!("Des scénarios ont échoué : voir la colonne erreurs.");
    }
    Ok(all_ok)
}

fn budgets(
    engine: Engine,
    generated: &Generated,
    resources: &resources::Resources,
    reports: &[ScenarioReport],
    digests: Option<&crate::features::notifications::bench::DigestBench>,
    scale: Scale,
) -> Vec<BudgetReport> {
    // PostgreSQL is held to twice the SQLite latency budgets.
    let factor = if engine == Engine::Postgres { 2.0 } else { 1.0 };
    let mut out = vec![
        BudgetReport {
            budget: "start-up to first /healthz".into(),
            limit: 1000.0 * factor,
            value: resources.startup_ms,
            unit: "ms",
            ok: resources.startup_ms <= 1000.0 * factor,
        },
        BudgetReport {
            budget: "idle RSS".into(),
            limit: 40.0,
            value: resources.idle_rss_mb,
            unit: "MB",
            ok: resources.idle_rss_mb <= 40.0,
        },
        BudgetReport {
            budget: "peak RSS under load".into(),
            limit: 250.0,
            value: resources.peak_rss_mb,
            unit: "MB",
            ok: resources.peak_rss_mb <= 250.0,
        },
    ];
    if scale == Scale::Medium && engine == Engine::Sqlite {
        out.push(BudgetReport {
            budget: "data generation (medium)".into(),
            limit: 60.0,
            value: generated.seconds,
            unit: "s",
            ok: generated.seconds <= 60.0,
        });
    }
    if let Some(d) = digests.filter(|_| scale == Scale::Medium) {
        out.push(BudgetReport {
            budget: format!("digest composition ({} users)", d.users),
            limit: 10.0 * factor,
            value: d.compose_seconds,
            unit: "s",
            ok: d.compose_seconds <= 10.0 * factor,
        });
    }
    // The budgets name the dashboard and the filtered site list; the site detail and the
    // back-office client search are reported without a budget.
    for r in reports.iter().filter(|r| matches!(r.scenario, "extranet_dashboard" | "mes_chantiers_postcode")) {
        let p99_limit = 20.0 * factor;
        out.push(BudgetReport {
            budget: format!("{} p99", r.scenario),
            limit: p99_limit,
            value: r.result.p99_ms,
            unit: "ms",
            ok: r.result.p99_ms <= p99_limit,
        });
        let ratio_limit = 0.15 / factor;
        out.push(BudgetReport {
            budget: format!("{} throughput / baseline", r.scenario),
            limit: ratio_limit,
            value: r.ratio_to_baseline,
            unit: "",
            ok: r.ratio_to_baseline >= ratio_limit,
        });
    }
    // Importing studies through the API: studies per second at the run's concurrency.
    for r in reports.iter().filter(|r| r.scenario == "thermal_import") {
        let limit = 200.0 / factor;
        out.push(BudgetReport {
            budget: "thermal_import studies per second".into(),
            limit,
            value: r.result.rps,
            unit: "/s",
            ok: r.result.rps >= limit,
        });
    }
    // Report software publishing 1 MB PDFs: megabytes stored per second, each one a new
    // document with its file, audit record and notifications.
    for r in reports.iter().filter(|r| r.scenario == "document_upload") {
        let limit = 20.0 / factor;
        out.push(BudgetReport {
            budget: "document_upload MB per second (1 MB PDFs)".into(),
            limit,
            value: r.result.rps,
            unit: "MB/s",
            ok: r.result.rps >= limit,
        });
    }
    // Exporting the firm's sites to Excel, downloads read to their end.
    for r in reports.iter().filter(|r| r.scenario == "sites_export") {
        let limit = 2000.0 * factor;
        out.push(BudgetReport {
            budget: format!("sites_export p50 ({} sites)", generated.export_sites),
            limit,
            value: r.result.p50_ms,
            unit: "ms",
            ok: r.result.p50_ms <= limit,
        });
    }
    out
}

/// Logged-in HTTP sessions, one per concurrent worker and role.
struct Sessions {
    anonymous: Vec<reqwest::Client>,
    clients: Vec<reqwest::Client>,
    staff: Vec<reqwest::Client>,
    export: Vec<reqwest::Client>,
}

impl Sessions {
    async fn open(base: &str, generated: &Generated, n: usize) -> anyhow::Result<Sessions> {
        let mut clients = Vec::new();
        for email in client_session_emails(generated, n) {
            clients.push(load::login(base, email, data::PASSWORD).await?);
        }
        let mut staff = Vec::new();
        for email in generated.staff_emails.iter().take(n) {
            staff.push(load::login(base, email, data::PASSWORD).await?);
        }
        let export = vec![load::login(base, &generated.export_staff_email, data::PASSWORD).await?];
        Ok(Sessions { anonymous: (0..n).map(|_| load::http_client()).collect(), clients, staff, export })
    }

    fn for_role(&self, who: As) -> &[reqwest::Client] {
        match who {
            // Integrators need no login: their token goes with each request.
            As::Anonymous | As::Integrator => &self.anonymous,
            As::ClientUser => &self.clients,
            As::Staff => &self.staff,
            As::ExportOffice => &self.export,
        }
    }
}
