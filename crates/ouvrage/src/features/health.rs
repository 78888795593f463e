//! `/healthz` (is the database reachable?) and Prometheus `/metrics`.

use std::net::SocketAddr;
use std::sync::atomic::AtomicI64;
use std::time::Instant;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::app::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    status: u16,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Histogram,
    in_flight: Gauge<i64, AtomicI64>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("ouvrage");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Histogram::new(exponential_buckets(0.0005, 2.0, 16));
        let in_flight = Gauge::<i64, AtomicI64>::default();
        registry.register("http_requests", "HTTP requests answered, by method and status", requests.clone());
        registry.register("http_request_duration_seconds", "Time to answer HTTP requests", latency.clone());
        registry.register("http_requests_in_flight", "HTTP requests being answered", in_flight.clone());
        Metrics { registry, requests, latency, in_flight }
    }
}

pub async fn track_metrics(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let method = req.method().to_string();
    let start = Instant::now();
    state.metrics.in_flight.inc();
    let resp = next.run(req).await;
    state.metrics.in_flight.dec();
    state.metrics.latency.observe(start.elapsed().as_secs_f64());
    state.metrics.requests.get_or_create(&RequestLabels { method, status: resp.status().as_u16() }).inc();
    resp
}

pub fn routes() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz)).route("/metrics", get(metrics))
}

/// 200 "ok" when the database answers, 503 otherwise (within the pool's acquire timeout), so a
/// load balancer stops sending requests to an instance that has lost its database and sends
/// them again once it is back.
async fn healthz(State(state): State<AppState>) -> Response {
    let text = [(header::CONTENT_TYPE, "text/plain; charset=utf-8")];
    match state.db.ping().await {
        Ok(()) => (StatusCode::OK, text, "ok").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "health check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, text, "base de données injoignable").into_response()
        }
    }
}

/// Open on loopback; elsewhere it needs `Authorization: Bearer OUVRAGE_METRICS_TOKEN`.
async fn metrics(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let authorised = match &state.config.metrics_token {
        Some(token) => headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).is_some_and(|v| {
            v.strip_prefix("Bearer ")
                .is_some_and(|t| subtle::ConstantTimeEq::ct_eq(t.as_bytes(), token.as_bytes()).into())
        }),
        None => peer.ip().is_loopback(),
    };
    if !authorised {
        return crate::http::AppError::NotFound.into_response();
    }
    let mut body = String::new();
    if prometheus_client::encoding::text::encode(&mut body, &state.metrics.registry).is_err() {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], body).into_response()
}
