//! Files: stored bytes (content-addressed) and the rows that give them an owner and a scope.

pub mod storage;

pub use storage::FileStore;

use axum::Router;

use crate::app::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
}
