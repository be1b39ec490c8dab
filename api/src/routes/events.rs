//! `GET /events`: the signed-in user's events as Server-Sent Events.
//!
//! Events are rows written in the same transaction as the change they announce (the outbox). A
//! stream sends the user's rows after the last id it sent, waits for a wake-up (in process, or from
//! another replica through Redis) or a heartbeat, and looks again; so a lost wake-up delays an
//! event by at most one heartbeat and never loses it. Reconnecting with `Last-Event-ID` replays
//! exactly what was missed. Every read checks the session (`begin_tenant_read_tx`), so a session
//! revoked meanwhile ends the stream at its next read or heartbeat, whichever comes first.
//! The stream is written by hand (no SSE crate): it is a few lines of `data:`/`id:` framing on a
//! byte stream, and what matters (the outbox read, the session check, the token's end) is ours.

use std::time::Duration;

use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, get, web};
use domain::authz::Actor;
use infra::db::begin_tenant_read_tx;
use infra::store::events;
use tokio::sync::broadcast;

use crate::error::{ApiError, Problem};
use crate::extract::Authenticated;
use crate::state::AppState;
use infra::cache::events_topic;

/// How often an idle stream sends a comment line (keeps proxies from closing it) and re-checks the
/// session.
const HEARTBEAT: Duration = Duration::from_secs(15);

/// The last message of a stream whose access token expired.
const TOKEN_EXPIRED: &[u8] = b"event: token_expired\ndata: {}\n\n";

struct Stream {
    state: web::Data<AppState>,
    actor: Actor,
    last: Option<uuid::Uuid>,
    wake: broadcast::Receiver<String>,
    topic: String,
    started: bool,
    done: bool,
    /// When the next heartbeat is due: a fixed beat, so wake-ups (ours or other tenants') never
    /// postpone the session re-check.
    next_heartbeat: tokio::time::Instant,
    /// When the access token the stream was opened with expires: the stream ends then, and the
    /// client reconnects with a fresh token (it holds no more rights than its token did).
    token_expires: tokio::time::Instant,
}

fn format_event(event: &events::Event) -> String {
    format!("id: {}\nevent: {}\ndata: {}\n\n", event.id, event.kind, event.payload)
}

impl Stream {
    async fn next_chunk(&mut self) -> Option<Result<Bytes, actix_web::Error>> {
        if self.done {
            return None;
        }
        if !self.started {
            self.started = true;
            return Some(Ok(Bytes::from_static(b"retry: 2000\n\n")));
        }
        loop {
            // Checked before every read too, so a busy stream (never idle) ends on time as well.
            if tokio::time::Instant::now() >= self.token_expires {
                self.done = true;
                return Some(Ok(Bytes::from_static(TOKEN_EXPIRED)));
            }
            match self.fetch().await {
                Ok(chunk) if !chunk.is_empty() => return Some(Ok(Bytes::from(chunk))),
                Ok(_) => {}
                Err(infra::StoreError::SessionEnded) => {
                    self.done = true;
                    return None;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "event stream read failed; the client will reconnect");
                    self.done = true;
                    return None;
                }
            }
            // Wait for a wake-up of this tenant (then look again) or the heartbeat. Wake-ups of
            // other tenants are skipped without touching the database.
            loop {
                tokio::select! {
                    woke = self.wake.recv() => match woke {
                        Ok(topic) if topic != self.topic => {}
                        // A wake-up for us, or missed wake-ups (lagged): look again either way.
                        Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => break,
                        Err(broadcast::error::RecvError::Closed) => {
                            self.done = true;
                            return None;
                        }
                    },
                    () = tokio::time::sleep_until(self.token_expires) => {
                        self.done = true;
                        return Some(Ok(Bytes::from_static(TOKEN_EXPIRED)));
                    }
                    () = tokio::time::sleep_until(self.next_heartbeat) => {
                        self.next_heartbeat = tokio::time::Instant::now() + HEARTBEAT;
                        if !self.session_live().await {
                            self.done = true;
                            return None;
                        }
                        return Some(Ok(Bytes::from_static(b": heartbeat\n\n")));
                    }
                }
            }
        }
    }

    async fn fetch(&mut self) -> Result<String, infra::StoreError> {
        let tx = begin_tenant_read_tx(&self.state.db, &self.actor).await?;
        let rows = events::after(&tx, self.actor.user_id, self.last, 100).await?;
        tx.commit().await?;
        if let Some(last) = rows.last() {
            self.last = Some(last.id);
        }
        Ok(rows.iter().map(format_event).collect())
    }

    /// The session check alone: beginning the transaction asks it.
    async fn session_live(&self) -> bool {
        let Ok(tx) = begin_tenant_read_tx(&self.state.db, &self.actor).await else { return false };
        tx.commit().await.is_ok()
    }
}

/// Stream the caller's events (SSE).
///
/// Server-Sent Events for the signed-in user: `referral.created` (workers on duty at the division),
/// `referral.accepted`, `referral.escalated` (supervisors), `case.assigned`, `task.overdue` (the task's assignee, once
/// its `due_at` passes) and `task.overdue_escalated` (supervisors, once it is overdue past the grace). Payloads hold
/// ids and fixed words only (a task's id, case, kind, assignee and `due_at`; never its title). Send `Last-Event-ID` to replay what was missed (events are kept `VCAO_EVENT_RETENTION_DAYS`, 30 days by
/// default; the referrals and cases they announce stay); a comment heartbeat arrives every 15 seconds. The stream
/// ends when the access token it was opened with expires, after an `event: token_expired`: reconnect with a fresh
/// token (and `Last-Event-ID`) to go on.
#[utoipa::path(
    tag = "referrals",
    operation_id = "stream_events",
    params(("Last-Event-ID" = Option<uuid::Uuid>, Header, description = "The id of the last event received; replays everything after it")),
    responses(
        (status = 200, description = "An endless text/event-stream; each event has `id`, `event` (its kind) and `data` (JSON with ids only)", content_type = "text/event-stream", body = String),
        (status = 422, description = "Last-Event-ID is not an event id", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/events")]
pub async fn stream_events(
    state: web::Data<AppState>,
    caller: Authenticated,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let Authenticated(actor, expiry) = caller;
    let last = match request.headers().get("Last-Event-ID") {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .and_then(|v| uuid::Uuid::try_parse(v.trim()).ok())
                .ok_or_else(|| ApiError::field("Last-Event-ID", "is not an event id"))?,
        ),
    };
    // Subscribe before reading, so nothing published in between is missed.
    let wake = state.bus.subscribe();
    // Always a transaction before the answer, even with Last-Event-ID: beginning it checks the
    // session, so an ended one gets 401 rather than a stream.
    let tx = begin_tenant_read_tx(&state.db, &actor).await?;
    let last = match last {
        Some(id) => Some(id),
        None => events::latest_id(&tx, actor.user_id).await?,
    };
    tx.commit().await?;
    let topic = events_topic(actor.tenant_id);
    let next_heartbeat = tokio::time::Instant::now() + HEARTBEAT;
    let left = (expiry.0 - chrono::Utc::now()).to_std().unwrap_or_default();
    let token_expires = tokio::time::Instant::now() + left;
    let stream = Stream { state, actor, last, wake, topic, started: false, done: false, next_heartbeat, token_expires };
    let body =
        futures_util::stream::unfold(stream, |mut s| async move { s.next_chunk().await.map(|chunk| (chunk, s)) });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}
