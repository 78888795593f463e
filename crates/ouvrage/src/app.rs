//! Building and running the application: state, router, middleware, workers, shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::config::Config;
use crate::db::Db;
use crate::features;
use crate::features::files::FileStore;
use crate::features::health::Metrics;
use crate::http::{AppError, assets, csrf, security};
use crate::{exec_db, on_db};

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<Config>,
    pub files: FileStore,
    pub mail_wakeup: Arc<Notify>,
    pub metrics: Arc<Metrics>,
    secret: Arc<Vec<u8>>,
}

impl AppState {
    /// The server-side secret (CSRF tokens, signed links), shared by every instance through
    /// the database.
    pub fn secret(&self) -> &[u8] {
        &self.secret
    }

    pub async fn new(config: Config, db: Db) -> anyhow::Result<AppState> {
        let secret = load_or_create_secret(&db).await?;
        let files = FileStore::from_config(&config.storage)?;
        Ok(AppState {
            db,
            config: Arc::new(config),
            files,
            mail_wakeup: Arc::new(Notify::new()),
            metrics: Arc::new(Metrics::default()),
            secret: Arc::new(secret),
        })
    }
}

async fn load_or_create_secret(db: &Db) -> anyhow::Result<Vec<u8>> {
    let candidate = crate::http::session::random_token();
    // Insert-if-absent, then read: concurrent first starts agree on one secret.
    exec_db!(db, |p| sqlx::query(
        "INSERT INTO settings (key, value) VALUES ('secret_key', $1) ON CONFLICT (key) DO NOTHING"
    )
    .bind(&candidate)
    .execute(p)
    .await)?;
    let value: String =
        on_db!(db, |p| sqlx::query_scalar("SELECT value FROM settings WHERE key = 'secret_key'").fetch_one(p).await)?;
    Ok(value.into_bytes())
}

pub fn router(state: AppState) -> Router {
    let upload_limit = state.config.max_upload_bytes as usize + 64 * 1024;
    // Listed from the innermost layer out.
    Router::new()
        .merge(features::routes())
        .route("/static/{name}", axum::routing::get(assets::asset))
        .fallback(|| async { AppError::NotFound })
        .layer(DefaultBodyLimit::max(upload_limit))
        .layer(middleware::from_fn_with_state(state.clone(), csrf::csrf_layer))
        .layer(CatchPanicLayer::custom(|_| {
            crate::http::error::error_page(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "Erreur interne",
                "Une erreur inattendue s'est produite. Elle a été enregistrée ; réessayez plus tard.",
            )
        }))
        // The time limit covers receiving the body (the CSRF check reads forms) as well as the
        // answer, so a body trickled forever ends in a 408 — dressed in French by the next layer,
        // like every refusal, and given the security headers further out.
        .layer(TimeoutLayer::with_status_code(axum::http::StatusCode::REQUEST_TIMEOUT, state.config.request_timeout))
        .layer(middleware::from_fn(crate::http::error::french_rejections))
        .layer(middleware::from_fn_with_state(state.clone(), features::health::track_metrics))
        .layer(middleware::from_fn(security::security_headers))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// A bound, not yet running server: tests bind port 0 and read the address.
pub struct Application {
    listener: TcpListener,
    pub state: AppState,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Application> {
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            anyhow::anyhow!("impossible de créer le dossier de données {} : {e}", config.data_dir.display())
        })?;
        let db = Db::connect_with(&config.database_url, config.db_acquire_timeout, config.db_wait).await?;
        crate::db::migrate(&db).await?;
        let listener = TcpListener::bind(config.addr)
            .await
            .map_err(|e| anyhow::anyhow!("impossible d'écouter sur {} : {e}", config.addr))?;
        let state = AppState::new(config, db).await?;
        Ok(Application { listener, state })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound listener has an address")
    }

    /// Serves until `shutdown` turns true (or SIGTERM/Ctrl-C when `shutdown` is `None`), then
    /// lets in-flight requests finish and stops the workers.
    pub async fn run(self, shutdown: Option<watch::Receiver<bool>>) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let workers = if self.state.config.workers {
            // Bytes left without a row by a crash go at start-up, not an hour later.
            let state = self.state.clone();
            tokio::spawn(async move {
                if let Err(e) = features::files::sweep::run(&state, &serde_json::Value::Null).await {
                    tracing::error!(error = %e, "orphan sweep at start-up failed");
                }
            });
            features::workers::spawn_all(self.state.clone(), stop_rx.clone())
        } else {
            Vec::new()
        };
        let app = router(self.state.clone());
        let signal = async move {
            match shutdown {
                Some(mut rx) => {
                    let _ = rx.wait_for(|v| *v).await;
                }
                None => shutdown_signal().await,
            }
        };
        serve(self.listener, app, self.state.config.header_read_timeout, signal).await;
        let _ = stop_tx.send(true);
        for w in workers {
            let _ = w.await;
        }
        self.state.db.close().await;
        Ok(())
    }
}

/// Serves HTTP/1.1 until `signal`, then stops accepting and lets open connections finish.
///
/// What `axum::serve` does, plus a timer, without which hyper cannot enforce its header read
/// timeout: a client that is silent or sends its headers byte by byte is disconnected after
/// `header_read_timeout` (the timer runs from the connection's start, and again while a
/// kept-alive connection waits for its next request). HTTP/1.1 only: browsers speak HTTP/2
/// only over TLS, which the reverse proxy in front terminates.
async fn serve(listener: TcpListener, app: Router, header_read_timeout: Duration, signal: impl Future<Output = ()>) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt;

    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(header_read_timeout);
    tokio::pin!(signal);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before it was accepted:
                    // pause rather than spin.
                    tracing::warn!(error = %e, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut signal => break,
        };
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(axum::extract::ConnectInfo(peer));
            app.clone().oneshot(req)
        });
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("arrêt demandé : fin des requêtes en cours");
}
