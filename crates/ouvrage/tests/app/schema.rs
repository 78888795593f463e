//! Migrations on both engines, and the invariants of the schema.

use ouvrage::db::{Db, Engine};
use ouvrage::{exec_db, on_db};

use crate::support::*;

/// Tables that belong to no firm: everything else must carry `tenant_id`.
const GLOBAL_TABLES: &[&str] = &["schema_migrations", "settings", "tenants", "login_throttle", "schedules"];

async fn table_names(db: &Db) -> Vec<String> {
    match db.engine() {
        Engine::Sqlite => on_db!(db, |p| sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
        .fetch_all(p)
        .await)
        .unwrap(),
        Engine::Postgres => on_db!(db, |p| {
            sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1"
        )
        .fetch_all(p)
        .await
        })
        .unwrap(),
    }
}

async fn has_column(db: &Db, table: &str, column: &str) -> bool {
    let sql = format!("SELECT {column} FROM {table} WHERE 1 = 0");
    on_db!(db, |p| sqlx::query(sqlx::AssertSqlSafe(sql.clone())).fetch_all(p).await.is_ok())
}

#[tokio::test]
async fn migrations_apply_once_and_record_their_version() {
    let env = TestEnv::new().await;
    let db = Db::connect(&env.database_url).await.unwrap();
    let first = ouvrage::db::migrate(&db).await.unwrap();
    assert_eq!(first, ouvrage::db::MIGRATIONS.iter().map(|m| m.version).collect::<Vec<_>>());
    // A second start applies nothing and breaks nothing.
    assert!(ouvrage::db::migrate(&db).await.unwrap().is_empty());
    let recorded: Vec<i64> =
        on_db!(&db, |p| sqlx::query_scalar("SELECT version FROM schema_migrations ORDER BY version")
            .fetch_all(p)
            .await)
        .unwrap();
    assert_eq!(recorded, first);
}

#[tokio::test]
async fn concurrent_starts_migrate_once() {
    let env = TestEnv::new().await;
    let a = Db::connect(&env.database_url).await.unwrap();
    let b = Db::connect(&env.database_url).await.unwrap();
    let (ra, rb) = tokio::join!(ouvrage::db::migrate(&a), ouvrage::db::migrate(&b));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.len() + rb.len(), ouvrage::db::MIGRATIONS.len(), "each migration applied by exactly one");
}

#[tokio::test]
async fn every_firm_owned_table_carries_tenant_id() {
    let app = TestApp::spawn().await;
    let tables = table_names(&app.db).await;
    assert!(tables.iter().any(|t| t == "clients"), "schema listed: {tables:?}");
    for t in tables.iter().filter(|t| !GLOBAL_TABLES.contains(&t.as_str())) {
        assert!(has_column(&app.db, t, "tenant_id").await, "table {t} has no tenant_id");
    }
    app.stop().await;
}

#[tokio::test]
async fn the_audit_log_is_append_only_in_the_database_itself() {
    let app = TestApp::spawn().await;
    let n: i64 = on_db!(&app.db, |p| sqlx::query_scalar("SELECT COUNT(*) FROM audit_log").fetch_one(p).await).unwrap();
    assert!(n > 0, "the demo loader records its changes");
    let update = exec_db!(&app.db, |p| sqlx::query("UPDATE audit_log SET summary = 'effacé'").execute(p).await);
    assert!(update.is_err(), "UPDATE on audit_log must be refused");
    let delete = exec_db!(&app.db, |p| sqlx::query("DELETE FROM audit_log").execute(p).await);
    assert!(delete.is_err(), "DELETE on audit_log must be refused");
    let after: i64 =
        on_db!(&app.db, |p| sqlx::query_scalar("SELECT COUNT(*) FROM audit_log").fetch_one(p).await).unwrap();
    assert_eq!(after, n);
    app.stop().await;
}

#[tokio::test]
async fn healthz_answers_when_the_database_is_reachable_and_metrics_count_requests() {
    let app = TestApp::spawn().await;
    let b = app.client();
    let (status, body) = b.get_text("/healthz").await;
    assert_eq!((status, body.as_str()), (200, "ok"));
    let (status, metrics) = b.get_text("/metrics").await;
    assert_eq!(status, 200);
    assert!(metrics.contains("ouvrage_http_requests_total{method=\"GET\",status=\"200\"}"), "{metrics}");
    app.stop().await;
}
