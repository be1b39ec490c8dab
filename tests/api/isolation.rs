//! Tenant isolation below the application: on PostgreSQL, row-level security alone stops a
//! cross-tenant read or write even when a query skips the application's own `tenant_id` filter.
//! And on both backends: every table is classified, and tenant tables key on `tenant_id` first.

use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::Value;

use crate::helpers::{on_postgres, spawn_app};

async fn count(tx: &infra::TenantTx, sql: &str) -> i64 {
    let row =
        tx.raw().query_one_raw(Statement::from_string(tx.raw().get_database_backend(), sql)).await.unwrap().unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

#[tokio::test]
async fn row_level_security_alone_hides_and_refuses_other_tenants_rows() {
    if !on_postgres() {
        eprintln!("SQLite has no row-level security; this test runs in the PostgreSQL pass of .ci/run");
        return;
    }
    let app = spawn_app().await;
    let a = app.create_agency().await;
    let b = app.create_agency().await;
    app.create_user(&b, &["case_manager"]).await;
    let db = &app.state.db;

    // The service's own pool runs as the runtime role, which can bypass nothing.
    let tx = infra::db::begin_tenant_tx_for(db, domain::TenantId::from_uuid(a.id)).await.unwrap();
    let who = tx
        .raw()
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT current_user::text AS name, r.rolsuper AS sup, r.rolbypassrls AS bypass FROM pg_roles r WHERE r.rolname = current_user",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(who.try_get::<String>("", "name").unwrap(), "vcao_app");
    assert!(!who.try_get::<bool>("", "sup").unwrap() && !who.try_get::<bool>("", "bypass").unwrap());

    // No WHERE tenant_id: row-level security alone limits the read to tenant A's one user.
    assert_eq!(count(&tx, "SELECT count(*) AS n FROM users").await, 1);
    assert_eq!(count(&tx, &format!("SELECT count(*) AS n FROM users WHERE tenant_id = '{}'", b.id)).await, 0);
    assert_eq!(count(&tx, &format!("SELECT count(*) AS n FROM audit_events WHERE tenant_id = '{}'", b.id)).await, 0);

    // Writing a row for tenant B from inside A's transaction is refused.
    let insert = format!(
        "INSERT INTO users (tenant_id, id, email, display_name, password_hash, roles, active, version, created_at, updated_at)
         VALUES ('{}', gen_random_uuid(), 'intruder@x.example', 'I', 'x', 'agency_admin', true, 1, now(), now())",
        b.id
    );
    let refused = tx.raw().execute_unprepared(&insert).await.unwrap_err();
    assert!(refused.to_string().contains("row-level security"), "{refused}");
    drop(tx);

    // Updating or deleting B's rows from A's transaction touches nothing.
    let tx = infra::db::begin_tenant_tx_for(db, domain::TenantId::from_uuid(a.id)).await.unwrap();
    let updated = tx
        .raw()
        .execute_unprepared(&format!("UPDATE users SET display_name = 'pwned' WHERE tenant_id = '{}'", b.id))
        .await
        .unwrap();
    assert_eq!(updated.rows_affected(), 0);
    let deleted =
        tx.raw().execute_unprepared(&format!("DELETE FROM sessions WHERE tenant_id = '{}'", b.id)).await.unwrap();
    assert_eq!(deleted.rows_affected(), 0);
    tx.commit().await.unwrap();

    // Outside any tenant transaction the runtime role sees no tenant rows at all: fail closed.
    let row = db
        .global()
        .query_one_raw(Statement::from_string(DbBackend::Postgres, "SELECT count(*) AS n FROM users"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get::<i64>("", "n").unwrap(), 0);
}

#[tokio::test]
async fn every_table_is_classified_and_tenant_tables_key_on_tenant_id_first() {
    let app = spawn_app().await;
    let conn = app.state.db.global();
    let backend = conn.get_database_backend();
    let list_sql = if backend == DbBackend::Postgres {
        "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'"
    } else {
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    };
    let tables: Vec<String> = conn
        .query_all_raw(Statement::from_string(backend, list_sql))
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get::<String>("", "name").unwrap())
        .collect();
    for table in &tables {
        let known = migrations::TENANT_TABLES.contains(&table.as_str())
            || migrations::REFERENCE_TABLES.contains(&table.as_str())
            || migrations::GLOBAL_TABLES.contains(&table.as_str());
        assert!(known, "table {table} is not classified in migrations/src/lib.rs");
    }
    for table in migrations::TENANT_TABLES {
        assert!(tables.iter().any(|t| t == table), "{table} exists");
        let first_key_column: String = if backend == DbBackend::Postgres {
            let sql = format!(
                "SELECT a.attname AS name FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                 WHERE i.indrelid = '{table}'::regclass AND i.indisprimary"
            );
            conn.query_one_raw(Statement::from_string(backend, sql))
                .await
                .unwrap()
                .unwrap()
                .try_get("", "name")
                .unwrap()
        } else {
            let sql = format!("SELECT name FROM pragma_table_info('{table}') WHERE pk = 1");
            conn.query_one_raw(Statement::from_string(backend, sql))
                .await
                .unwrap()
                .unwrap()
                .try_get("", "name")
                .unwrap()
        };
        assert_eq!(first_key_column, "tenant_id", "{table}'s primary key starts with tenant_id");
        if backend == DbBackend::Postgres {
            let sql = format!(
                "SELECT relrowsecurity AS on, relforcerowsecurity AS forced FROM pg_class WHERE oid = '{table}'::regclass"
            );
            let row = conn.query_one_raw(Statement::from_string(backend, sql)).await.unwrap().unwrap();
            assert!(
                row.try_get::<bool>("", "on").unwrap() && row.try_get::<bool>("", "forced").unwrap(),
                "{table} has FORCEd RLS"
            );
        }
    }
}

#[tokio::test]
async fn one_agencys_admin_never_lists_anothers_users() {
    let app = spawn_app().await;
    let a = app.create_agency().await;
    let b = app.create_agency().await;
    let b_user = app.create_user(&b, &["supervisor"]).await;
    let list: Value = app.get("/api/v1/users?limit=200", Some(&a.admin.access_token)).await.json().await.unwrap();
    let ids: Vec<&str> = list["items"].as_array().unwrap().iter().filter_map(|u| u["id"].as_str()).collect();
    assert_eq!(ids, [a.admin.user_id.to_string()]);
    assert!(!list.to_string().contains(&b_user.email));
}
