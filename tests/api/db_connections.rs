//! The database connection pool: connections the database dropped while they sat idle in the
//! pool (a restart, a failover, a proxy's idle limit) are found and replaced before a request is
//! given one, so no worker sees an error for something that already healed.

use futures_util::future::join_all;
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Database, DbBackend, Statement, TransactionTrait};

use crate::helpers::on_postgres;

#[tokio::test]
async fn connections_the_database_dropped_while_idle_are_replaced_before_a_request_uses_them() {
    if !on_postgres() {
        return; // an embedded SQLite file has no server to drop a connection
    }
    // No background work, which would otherwise find the dead connections first.
    let app = crate::helpers::spawn_quiet_app().await;
    let agency = app.create_agency().await;
    let size = app.state.settings.database_max_connections as usize;

    // Hold every connection of the pool at once to learn each one's server process, then give
    // them back: the pool now holds `size` idle connections.
    let pool = app.state.db.global();
    let mut held = Vec::new();
    for _ in 0..size {
        held.push(pool.begin().await.unwrap());
    }
    let mut pids = Vec::new();
    for tx in &held {
        let row = tx
            .query_one_raw(Statement::from_string(DbBackend::Postgres, "SELECT pg_backend_pid() AS pid"))
            .await
            .unwrap()
            .unwrap();
        pids.push(row.try_get::<i32>("", "pid").unwrap());
    }
    for tx in held {
        tx.commit().await.unwrap();
    }

    // The database drops them all, as a restart would.
    let owner = Database::connect(std::env::var("DATABASE_URL").unwrap()).await.unwrap();
    for pid in &pids {
        owner
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_terminate_backend($1)",
                [(*pid).into()],
            ))
            .await
            .unwrap();
    }
    // Longer than the pool's idle threshold for a ping (infra::db::PING_WHEN_IDLE_FOR).
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;

    // As many requests at once as the pool has connections: each is handed a tested one.
    let path = format!("/api/v1/users/{}", agency.admin.user_id);
    let responses = join_all((0..size).map(|_| app.get(&path, Some(&agency.admin.access_token)))).await;
    let statuses: Vec<StatusCode> = responses.iter().map(reqwest::Response::status).collect();
    assert!(statuses.iter().all(|s| *s == StatusCode::OK), "{statuses:?}");
}
