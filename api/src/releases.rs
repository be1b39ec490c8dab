//! The release builder: keeps every fiscal year's protected release (`domain::reporting::release`)
//! in step with the facts, in background work, so requests only read.
//!
//! Each round (every `VCAO_RELEASE_REFRESH_SECONDS`, 60 by default) counts the facts of each
//! fiscal year in one statement and rebuilds the years whose count differs from the one their
//! release was built from. Facts are append-only, so any new fact changes the count: the current
//! year is rebuilt within a round of new activity, and a closed year when a late fact lands in it.
//! The state is in the database, so a restart picks up where the last round left off.
//!
//! Once across replicas: a replica takes a year's lease (`infra::store::releases::claim`) before
//! building it, renews it while the build runs and gives it back with the release; the others
//! skip that year until then. A replica that dies mid-build stops renewing, so another takes the
//! year over within [`LEASE`]; a builder that finds its lease taken (it stalled past it) drops
//! its build rather than overwrite the newer one. A build continues the last one's lineage
//! (`domain::reporting::release::lineage`: the facts each release counts and its blocks, read and
//! written in the builder's transactions), so releases set against each other over time
//! disclose nothing either. Redis plays no part: a cache may hold answers read
//! from a release, never decide one.
//!
//! A round runs one interval after the service starts, then every interval: the releases a
//! former run built are in the database, and a year never built is built by the first question
//! about it ([`ensure_built`]).
#![expect(clippy::disallowed_methods, reason = "the builder reads every agency's facts, for no caller")]

use std::time::Duration;

use domain::reporting::release::{self, answer};
use infra::store::releases::{self as store, BUILDER};

use crate::error::ApiError;
use crate::state::AppState;

/// How long a year's lease lasts unless renewed: how long a dead builder keeps others waiting.
pub const LEASE: Duration = Duration::from_secs(30);

/// How often a running build renews its lease: a third of it, so two missed renewals (a slow
/// database) do not lose it.
const RENEW_EVERY: Duration = Duration::from_secs(10);

/// What a round did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Round {
    /// The fiscal years rebuilt.
    pub built: Vec<i32>,
    /// The years another replica held.
    pub skipped: Vec<i32>,
}

/// Starts the builder: a round every interval, the first one interval after start.
pub fn spawn(state: &AppState) {
    let state = state.clone();
    let interval = Duration::from_secs(state.settings.release_refresh_seconds);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(interval).await;
            if let Err(e) = refresh(&state).await {
                tracing::warn!(error = %e, "could not refresh the aggregate releases; will retry");
            }
        }
    });
}

/// One round: rebuilds every fiscal year whose facts changed since its release was built.
///
/// # Errors
/// Database failures.
pub async fn refresh(state: &AppState) -> Result<Round, ApiError> {
    let tx = infra::db::begin_tenant_read_tx_for(&state.db, BUILDER).await?;
    tx.widen_to_all_agencies().await?;
    let counts = store::fact_counts(&tx).await?;
    let states = store::states(&tx).await?;
    tx.commit().await?;
    let threshold = state.settings.suppression_threshold;
    let mut years: Vec<i32> = counts.iter().map(|&(_, year, _)| year).collect();
    years.dedup();
    let mut round = Round::default();
    for year in years {
        let facts: i64 = counts.iter().filter(|&&(_, y, _)| y == year).map(|&(_, _, n)| n).sum();
        let current = states.iter().find(|s| s.fiscal_year == year);
        // Rebuilt when facts arrived, and when a month has closed since the last build: what
        // waits in a closed month is merged then (`release::lineage`).
        let now = closed_months(year, infra::db::now());
        if current.is_some_and(|s| {
            s.facts == facts && s.threshold == threshold && s.built_at.is_some_and(|at| closed_months(year, at) == now)
        }) {
            continue;
        }
        if build_year(state, year).await? {
            round.built.push(year);
        } else {
            round.skipped.push(year);
        }
    }
    Ok(round)
}

/// Builds `fiscal_year`'s release if it has never been built: a new deployment's first question
/// about a year, before the builder's first round reached it. Call it before opening a
/// transaction that writes (on SQLite the build needs the writer).
///
/// # Errors
/// Database failures.
pub async fn ensure_built(state: &AppState, fiscal_year: i32) -> Result<(), ApiError> {
    let is_built = || async {
        let tx = infra::db::begin_tenant_read_tx_for(&state.db, BUILDER).await?;
        let built = store::is_built(&tx, fiscal_year).await?;
        tx.commit().await?;
        Ok::<_, ApiError>(built)
    };
    if is_built().await? || build_year(state, fiscal_year).await? {
        return Ok(());
    }
    // Another replica is building it: its first build is seconds away, so wait for it rather
    // than answer 503 (the caller does when the lease outlives the wait).
    let started = std::time::Instant::now();
    while started.elapsed() < LEASE {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if is_built().await? || build_year(state, fiscal_year).await? {
            return Ok(());
        }
    }
    Ok(())
}

/// Builds `fiscal_year`'s release now, unless another replica holds it (then `false`).
///
/// # Errors
/// Database failures, or facts the tabulation refuses.
pub async fn build_year(state: &AppState, fiscal_year: i32) -> Result<bool, ApiError> {
    let holder = uuid::Uuid::new_v4();
    let tx = infra::db::begin_tenant_tx_for(&state.db, BUILDER).await?;
    let now = infra::db::now();
    let claimed = store::claim(&tx, fiscal_year, holder, now, lease_end(now)).await?;
    tx.commit().await?;
    if !claimed {
        return Ok(false);
    }
    let outcome = tokio::select! {
        built = build_and_save(state, fiscal_year, holder) => built,
        lost = keep_lease(state, fiscal_year, holder) => Err(lost),
    };
    match outcome {
        Ok(saved) => Ok(saved),
        Err(e) => {
            // Give the year back so the next round (here or elsewhere) tries again at once.
            if let Ok(tx) = infra::db::begin_tenant_tx_for(&state.db, BUILDER).await {
                let _ = store::release_lease(&tx, fiscal_year, holder).await;
                let _ = tx.commit().await;
            }
            Err(e)
        }
    }
}

/// How many months of `fiscal_year` had closed, in Ontario, at `at`.
fn closed_months(fiscal_year: i32, at: chrono::DateTime<chrono::Utc>) -> u8 {
    release::lineage::closed_months(fiscal_year, domain::reporting::ontario_date(at))
}

fn lease_end(now: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    now + chrono::Duration::from_std(LEASE).unwrap_or_else(|_| chrono::Duration::seconds(30))
}

/// Renews `holder`'s lease every [`RENEW_EVERY`] for as long as the build runs; returns only
/// when the lease was lost, so the build is dropped. A failed renewal is retried at the next tick:
/// the lease outlives two of them.
async fn keep_lease(state: &AppState, fiscal_year: i32, holder: uuid::Uuid) -> ApiError {
    loop {
        tokio::time::sleep(RENEW_EVERY).await;
        let renewed = async {
            let tx = infra::db::begin_tenant_tx_for(&state.db, BUILDER).await?;
            let renewed = store::renew_lease(&tx, fiscal_year, holder, lease_end(infra::db::now())).await?;
            tx.commit().await?;
            Ok::<_, ApiError>(renewed)
        }
        .await;
        match renewed {
            Ok(true) => {}
            Ok(false) => {
                return ApiError::Internal(format!("the lease on fiscal year {fiscal_year}'s release was lost"));
            }
            Err(e) => tracing::warn!(error = %e, fiscal_year, "could not renew a release lease; will retry"),
        }
    }
}

/// Tabulates, protects and stores the year; `false` when the lease was taken over before it was stored.
async fn build_and_save(state: &AppState, fiscal_year: i32, holder: uuid::Uuid) -> Result<bool, ApiError> {
    let started = std::time::Instant::now();
    let tx = infra::db::begin_tenant_read_tx_for(&state.db, BUILDER).await?;
    tx.widen_to_all_agencies().await?;
    let agencies: Vec<domain::TenantId> = store::fact_counts(&tx)
        .await?
        .into_iter()
        .filter(|&(_, year, _)| year == fiscal_year)
        .map(|(tenant, _, _)| tenant)
        .collect();
    let threshold = state.settings.suppression_threshold;
    let closed = closed_months(fiscal_year, infra::db::now());
    // The last build's blocks, continued (`release::lineage`); facts it counted stay counted.
    let previous = store::lineage(&tx, fiscal_year).await?.filter(|l| l.threshold == threshold);
    let store::Facts { tabulation, ids, counted: before } =
        store::tabulate(&tx, fiscal_year, &agencies, previous.is_some()).await?;
    tx.commit().await?;
    let facts = i64::try_from(tabulation.len()).unwrap_or(i64::MAX);
    let read = started.elapsed();
    // Tabulating and protecting take seconds on a big year: off the request threads.
    let done = tokio::task::spawn_blocking(move || {
        let built = release::build_after(tabulation.finish(), threshold, previous.as_ref(), closed);
        let release = &built.release;
        let cells = release.cells.len();
        let withheld = release.cells.iter().filter(|c| c.withheld.iter().any(|w| *w)).count();
        let mut chunks = Vec::new();
        for ((level, mask), cells) in answer::chunks(release) {
            chunks.extend(store::encode(level, mask, &cells, &release.dictionaries));
        }
        // Only the facts whose families changed are written.
        let counts: Vec<(uuid::Uuid, domain::reporting::release::FamilyMask)> = ids
            .iter()
            .zip(before.iter().zip(&built.counted))
            .filter(|(_, (was, now))| was != now)
            .map(|(id, (_, now))| (*id, *now))
            .collect();
        (chunks, counts, built.lineage, cells, withheld, built.waiting)
    })
    .await
    .map_err(|e| ApiError::Internal(format!("release build task: {e}")))?;
    let (chunks, counts, lineage, cells, withheld, waiting) = done;
    let counts_len = counts.len();
    let built = started.elapsed();
    let tx = infra::db::begin_tenant_tx_for(&state.db, BUILDER).await?;
    let built_from = store::Built { facts, threshold, at: infra::db::now() };
    if !store::save(&tx, holder, fiscal_year, &built_from, &chunks, &counts, &lineage).await? {
        tracing::warn!(fiscal_year, "another builder took this release over; dropped this build");
        return Ok(false);
    }
    tx.commit().await?;
    tracing::info!(
        fiscal_year,
        facts,
        cells,
        withheld,
        waiting,
        newly_counted = counts_len,
        read_ms = read.as_millis(),
        build_ms = (built - read).as_millis(),
        write_ms = (started.elapsed() - built).as_millis(),
        "aggregate release built"
    );
    Ok(true)
}
