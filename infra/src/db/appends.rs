//! The connection a tenant transaction's stores run on, with its queue of appends.
//!
//! Most of what a change writes besides the change itself is appended and never read back in the
//! same transaction: its audit event, its reporting fact, its outbox events, a new case's rows.
//! Sent one by one, each costs a round trip to the database. Queued here instead, they are written
//! together just before the transaction's next statement, whatever it is, or its commit: on
//! PostgreSQL as one statement (the inserts as data-modifying CTEs; foreign keys are checked at
//! the end of the statement, so their order does not matter), on SQLite one after another (it has
//! no data-modifying CTEs, and its statements cost no round trip).
//!
//! Because the queue is written before any other statement, a later read in the transaction sees
//! the queued rows, exactly as if they had been inserted at once. What moves is only where an
//! insert's error (a missing reference) surfaces: at the next statement or the commit, mapped
//! like any other.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use sea_orm::sea_query::{CommonTableExpression, InsertStatement, WithClause};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, ExecResult, QueryResult, Statement};

/// A transaction and the appends queued on it. See the module documentation.
pub struct TxConn {
    tx: DatabaseTransaction,
    queued: Mutex<Vec<InsertStatement>>,
    /// Set when writing the queue failed: the transaction may then never commit, even if its
    /// caller caught the error and went on (SQLite would commit the rest without the appends).
    lost_appends: AtomicBool,
}

/// Shows how many appends wait, never their values (sealed or not, they are a person's record).
impl std::fmt::Debug for TxConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let queued = self.queued.lock().unwrap_or_else(PoisonError::into_inner).len();
        f.debug_struct("TxConn").field("queued", &queued).finish_non_exhaustive()
    }
}

impl TxConn {
    pub(super) fn new(tx: DatabaseTransaction) -> Self {
        Self { tx, queued: Mutex::new(Vec::new()), lost_appends: AtomicBool::new(false) }
    }

    /// Queues an insert of rows nothing reads back before the transaction's next statement.
    pub fn append(&self, insert: InsertStatement) {
        self.queued.lock().unwrap_or_else(PoisonError::into_inner).push(insert);
    }

    /// Writes the queued appends (nothing when none are queued).
    ///
    /// # Errors
    /// The database error of any of them; the transaction should then be dropped (rolled back).
    pub async fn flush(&self) -> Result<(), DbErr> {
        let queued = std::mem::take(&mut *self.queued.lock().unwrap_or_else(PoisonError::into_inner));
        let written = self.write(queued).await;
        if written.is_err() {
            self.lost_appends.store(true, Ordering::Relaxed);
        }
        written
    }

    async fn write(&self, queued: Vec<InsertStatement>) -> Result<(), DbErr> {
        let backend = self.tx.get_database_backend();
        match backend {
            DbBackend::Postgres => {
                if let Some(statement) = one_statement(queued) {
                    self.tx.execute_raw(statement).await?;
                }
            }
            _ => {
                for insert in queued {
                    self.tx.execute_raw(backend.build(&insert)).await?;
                }
            }
        }
        Ok(())
    }

    /// Writes the queued appends, then commits; refuses (and rolls back) when appends were lost.
    pub(super) async fn commit(self) -> Result<(), DbErr> {
        self.flush().await?;
        if self.lost_appends.load(Ordering::Relaxed) {
            self.tx.rollback().await?;
            return Err(DbErr::Custom("queued appends failed earlier in this transaction; rolled back".to_owned()));
        }
        self.tx.commit().await
    }
}

/// The inserts as one PostgreSQL statement: the last is the statement, the others its CTEs.
fn one_statement(mut inserts: Vec<InsertStatement>) -> Option<Statement> {
    let last = inserts.pop()?;
    if inserts.is_empty() {
        return Some(DbBackend::Postgres.build(&last));
    }
    let mut with = WithClause::new();
    for (n, insert) in inserts.into_iter().enumerate() {
        with.cte(CommonTableExpression::new().query(insert).table_name(format!("append_{n}")).to_owned());
    }
    Some(DbBackend::Postgres.build(&last.with(with)))
}

#[async_trait::async_trait]
impl ConnectionTrait for TxConn {
    fn get_database_backend(&self) -> DbBackend {
        self.tx.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.flush().await?;
        self.tx.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.flush().await?;
        self.tx.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.flush().await?;
        self.tx.query_one_raw(stmt).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.flush().await?;
        self.tx.query_all_raw(stmt).await
    }

    fn support_returning(&self) -> bool {
        self.tx.support_returning()
    }
}
