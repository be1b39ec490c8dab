//! The database: opening it on either backend, migrating it, and the tenant-scoped transaction
//! that is the only way to reach tenant data.

mod appends;
mod provision;

use std::time::Duration;

use domain::TenantId;
use domain::authz::Actor;
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
};
use secrecy::ExposeSecret as _;

use crate::config::Settings;
use crate::store::StoreError;

pub use appends::TxConn;
pub use provision::RuntimeRoleError;

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Connecting, migrating or provisioning failed.
    #[error("database: {0}")]
    Db(#[from] DbErr),
    /// The data directory could not be created.
    #[error("data directory: {0}")]
    DataDir(#[from] std::io::Error),
    /// The runtime role could bypass row-level security; refusing to serve with it.
    #[error(transparent)]
    UnsafeRole(#[from] RuntimeRoleError),
}

/// A handle on the runtime connection pool. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    conn: DatabaseConnection,
    /// SQLite only: one writing transaction at a time, queued fairly in this process. SQLite's own
    /// busy handler retries with sleeps and no order, so under sustained writes one connection can
    /// lose every race for longer than the busy timeout and fail with "database is locked"
    /// (measured: 500s under 8 concurrent writers). The embedded default is a single process, so an
    /// in-process FIFO queue is exact.
    writer: Option<std::sync::Arc<tokio::sync::Semaphore>>,
    /// Statements sent on the pool (see [`Db::statements_sent`]).
    statements: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Db {
    /// Opens the database the settings name, runs pending migrations and, on PostgreSQL,
    /// provisions the runtime role and connects as it.
    ///
    /// # Errors
    /// [`OpenError`] when any step fails; on PostgreSQL also when the runtime role could bypass
    /// row-level security.
    pub async fn open(settings: &Settings) -> Result<Self, OpenError> {
        let owner_url = owner_url(settings)?;
        if owner_url.starts_with("sqlite:") {
            let conn = connect_sqlite(&owner_url, settings.database_max_connections).await?;
            migrate(&conn).await?;
            return Ok(Self::counting(conn, Some(std::sync::Arc::new(tokio::sync::Semaphore::new(1)))));
        }
        let owner = connect_postgres(&owner_url, 2, None).await?;
        migrate(&owner).await?;
        provision::provision_runtime_role(&owner, settings).await?;
        owner.close().await?;
        let conn = match &settings.database_app_url {
            Some(url) => connect_postgres(url.expose_secret(), settings.database_max_connections, None).await?,
            None => {
                let role = Some((
                    settings.database_app_role.clone(),
                    settings.database_app_password.as_ref().map(|p| p.expose_secret().to_owned()),
                ));
                connect_postgres(&owner_url, settings.database_max_connections, role).await?
            }
        };
        provision::check_runtime_role(&conn).await?;
        Ok(Self::counting(conn, None))
    }

    fn counting(mut conn: DatabaseConnection, writer: Option<std::sync::Arc<tokio::sync::Semaphore>>) -> Self {
        let statements = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counter = std::sync::Arc::clone(&statements);
        conn.set_metric_callback(move |_| {
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        });
        Self { conn, writer, statements }
    }

    /// Statements sent on the pool since it opened: every query and write the service makes
    /// (transactions add their `BEGIN`, `SET LOCAL` and `COMMIT`, which are not counted). A
    /// request's round trips to the database are its cost: `/metrics` shows this, and a test
    /// holds a case's creation to its count.
    #[must_use]
    pub fn statements_sent(&self) -> u64 {
        self.statements.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Runs pending migrations (and role provisioning on PostgreSQL) without serving.
    ///
    /// # Errors
    /// [`OpenError`] when connecting, migrating or provisioning fails.
    pub async fn migrate_only(settings: &Settings) -> Result<(), OpenError> {
        let url = owner_url(settings)?;
        if url.starts_with("sqlite:") {
            let conn = connect_sqlite(&url, 1).await?;
            migrate(&conn).await?;
            conn.close().await?;
        } else {
            let owner = connect_postgres(&url, 2, None).await?;
            migrate(&owner).await?;
            provision::provision_runtime_role(&owner, settings).await?;
            owner.close().await?;
        }
        Ok(())
    }

    /// Which backend this is.
    #[must_use]
    pub fn backend(&self) -> DbBackend {
        self.conn.get_database_backend()
    }

    /// The connection itself, for the few reads that need no tenant transaction (see
    /// `store::sessions::live_session_owner`).
    pub(crate) fn connection(&self) -> &DatabaseConnection {
        &self.conn
    }

    /// A cheap round trip, for readiness.
    ///
    /// # Errors
    /// The database error when it does not answer.
    pub async fn ping(&self) -> Result<(), DbErr> {
        self.conn.execute_unprepared("SELECT 1").await.map(|_| ())
    }

    /// The pool, for stores of reference and global tables (no tenant data) and for tests.
    #[must_use]
    pub fn global(&self) -> &DatabaseConnection {
        &self.conn
    }

    /// Closes the pool.
    ///
    /// # Errors
    /// The database error, if closing fails.
    pub async fn close(self) -> Result<(), DbErr> {
        self.conn.close().await
    }
}

/// One transaction scoped to one tenant. On PostgreSQL it has set `app.tenant_id` with
/// `SET LOCAL`, so row-level security admits only that tenant's rows; on both backends every
/// store function filters by [`TenantTx::tenant_id`] as well. Dropped without commit, it rolls back.
#[derive(Debug)]
pub struct TenantTx {
    tx: TxConn,
    tenant_id: TenantId,
    /// SQLite: this transaction's turn as the writer, released when it ends.
    _writer_turn: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl TenantTx {
    /// The tenant this transaction belongs to.
    #[must_use]
    pub fn tenant_id(&self) -> TenantId {
        self.tenant_id
    }

    /// The transaction's connection. Store functions run their statements on it; tests of
    /// row-level security use it to bypass the application's own filters on purpose.
    #[must_use]
    pub fn raw(&self) -> &TxConn {
        &self.tx
    }

    /// Queues an insert of rows nothing in this transaction reads before its next statement (an
    /// audit event, a reporting fact, a new case): they are written together with the other
    /// queued appends, in one statement on PostgreSQL, before that next statement or the commit.
    /// See [`TxConn`].
    pub fn append(&self, insert: sea_orm::sea_query::InsertStatement) {
        self.tx.append(insert);
    }

    /// Moves this transaction to another tenant. Only tenant provisioning (creating a tenant and
    /// its first admin in one transaction) needs this.
    ///
    /// # Errors
    /// The database error.
    pub async fn switch_tenant(&mut self, tenant_id: TenantId) -> Result<(), StoreError> {
        set_tenant(&self.tx, tenant_id).await?;
        self.tenant_id = tenant_id;
        Ok(())
    }

    /// Lets this transaction read every agency's reporting facts and submitted reports, and
    /// review submitted reports: on PostgreSQL the reporting tables' second policy admits them
    /// (no personal table has one). Only the ministry's reporting paths call this, after
    /// `domain::authz` allowed the caller; on SQLite the stores' own filters are the wall.
    ///
    /// # Errors
    /// The database error.
    pub async fn widen_to_all_agencies(&self) -> Result<(), StoreError> {
        if self.tx.get_database_backend() == DbBackend::Postgres {
            self.tx.execute_unprepared("SET LOCAL app.reporting_scope = 'all_agencies'").await?;
        }
        Ok(())
    }

    /// Commits.
    ///
    /// # Errors
    /// [`StoreError`] when the commit fails (a serialisation failure or a lost connection).
    pub async fn commit(self) -> Result<(), StoreError> {
        // from_db: a queued append's missing reference is a conflict, as it would have been
        // had it been inserted at once.
        self.tx.commit().await.map_err(StoreError::from_db)
    }
}

/// Begins a transaction for the caller's tenant. This and [`begin_tenant_tx_for`] are the ways to
/// reach tenant data; the one exception is the per-request session check
/// (`store::sessions::live_session_owner`), a single read that sets its tenant itself.
///
/// # Errors
/// [`StoreError`] when the database cannot begin one.
pub async fn begin_tenant_tx(db: &Db, actor: &Actor) -> Result<TenantTx, StoreError> {
    begin_tenant_tx_for(db, actor.tenant_id).await
}

/// Begins a transaction for a tenant named by something other than a signed-in caller: a login's
/// tenant slug, a refresh token, the sealer's tenant list, the bootstrap.
///
/// # Errors
/// [`StoreError`] when the database cannot begin one.
pub async fn begin_tenant_tx_for(db: &Db, tenant_id: TenantId) -> Result<TenantTx, StoreError> {
    // SQLite: take the write lock at BEGIN, so two writers queue on busy_timeout instead of one
    // failing with SQLITE_BUSY when it upgrades from reading to writing mid-transaction.
    let options = TransactionOptions {
        isolation_level: None,
        access_mode: None,
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
    };
    let turn = match &db.writer {
        // As long as SQLite's own busy timeout, then "unavailable" (503): a turn that never comes
        // (a writer waiting for itself) must not hang its request for ever.
        Some(writer) => Some(
            tokio::time::timeout(WRITER_TURN_TIMEOUT, std::sync::Arc::clone(writer).acquire_owned())
                .await
                .map_err(|_| DbErr::ConnectionAcquire(sea_orm::error::ConnAcquireErr::Timeout))?
                .map_err(|_| DbErr::ConnectionAcquire(sea_orm::error::ConnAcquireErr::ConnectionClosed))?,
        ),
        None => None,
    };
    let tx = TxConn::new(db.conn.begin_with_options(options).await?);
    set_tenant(&tx, tenant_id).await?;
    Ok(TenantTx { tx, tenant_id, _writer_turn: turn })
}

/// Begins a transaction for a tenant that will only read. On SQLite it does not take the write
/// lock (WAL readers never wait for writers), so session checks and event streams do not queue
/// behind writes; on PostgreSQL it is an ordinary read-only transaction with the same row-level
/// security as any other.
///
/// # Errors
/// [`StoreError`] when the database cannot begin one.
pub async fn begin_tenant_read_tx_for(db: &Db, tenant_id: TenantId) -> Result<TenantTx, StoreError> {
    // SQLite has no read-only transactions (sea-orm warns on each); a deferred one takes no lock.
    let read_only = (db.backend() == DbBackend::Postgres).then_some(sea_orm::AccessMode::ReadOnly);
    let options = TransactionOptions {
        isolation_level: None,
        access_mode: read_only,
        sqlite_transaction_mode: Some(SqliteTransactionMode::Deferred),
    };
    let tx = TxConn::new(db.conn.begin_with_options(options).await?);
    set_tenant(&tx, tenant_id).await?;
    Ok(TenantTx { tx, tenant_id, _writer_turn: None })
}

async fn set_tenant(tx: &TxConn, tenant_id: TenantId) -> Result<(), DbErr> {
    if tx.get_database_backend() == DbBackend::Postgres {
        // SET cannot take bind parameters; a UUID renders only as [0-9a-f-], so this is safe.
        // SET LOCAL (not set_config) is what Citus propagates to workers.
        tx.execute_unprepared(&format!("SET LOCAL app.tenant_id = '{}'", tenant_id.as_uuid())).await?;
    }
    Ok(())
}

fn owner_url(settings: &Settings) -> Result<String, OpenError> {
    match &settings.database_url {
        Some(url) => Ok(url.expose_secret().to_owned()),
        None => {
            std::fs::create_dir_all(&settings.data_dir)?;
            let path = settings.data_dir.join("vcao.sqlite");
            Ok(format!("sqlite://{}?mode=rwc", path.display()))
        }
    }
}

/// SQLite: how long a writing transaction waits for its turn (see [`begin_tenant_tx_for`]); the
/// same as the connections' busy timeout.
const WRITER_TURN_TIMEOUT: Duration = Duration::from_secs(10);

/// PostgreSQL: a pooled connection idle at least this long is pinged before it is handed out.
/// sqlx's default pings on every acquire, and it also pings on every release (that one cannot be
/// turned off): two of the ten round trips of a `POST /cases` were pings (`strace`, see
/// docs/benchmarks.md). A connection busy within the last second was proven alive by its release
/// ping; one idle longer may have been dropped by a database restart, a proxy or a firewall, and
/// is tested first, so a request never lands on it.
const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(1);

async fn connect_sqlite(url: &str, max_connections: u32) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(max_connections.clamp(1, 16))
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        // An embedded file cannot drop a connection; a ping would only be a hop to its thread.
        .test_before_acquire(false)
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                // FULL: a commit acknowledged to a client survives a power cut, not only a crash.
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(WRITER_TURN_TIMEOUT)
        });
    Database::connect(options).await
}

async fn connect_postgres(
    url: &str,
    max_connections: u32,
    as_role: Option<(String, Option<String>)>,
) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(max_connections)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(5))
        .test_before_acquire_if_idle_for(PING_WHEN_IDLE_FOR)
        .sqlx_logging(false);
    if let Some((role, password)) = as_role {
        options.map_sqlx_postgres_opts(move |o| {
            let o = o.username(&role);
            match &password {
                Some(p) => o.password(p),
                None => o,
            }
        });
    }
    Database::connect(options).await
}

/// Applies pending migrations. On PostgreSQL this runs in one transaction under an advisory lock,
/// so replicas (or test processes) starting together migrate once and never race.
async fn migrate(conn: &DatabaseConnection) -> Result<(), DbErr> {
    use migrations::MigratorTrait as _;
    if conn.get_database_backend() == DbBackend::Postgres {
        let tx = conn.begin().await?;
        tx.execute_unprepared("SELECT pg_advisory_xact_lock(7436016)").await?;
        migrations::Migrator::up(&tx, None).await?;
        tx.commit().await
    } else {
        migrations::Migrator::up(conn, None).await
    }
}

/// The current time at the precision both backends store (microseconds), so a value returned
/// from a create equals the value a later read returns.
#[must_use]
pub fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::SubsecRound as _;
    chrono::Utc::now().trunc_subsecs(6)
}
