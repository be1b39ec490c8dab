//! `kill -9` of the real `vcao` binary in the middle of a write load, with clients that retry
//! with the same `Idempotency-Key` until answered: every create answered 2xx is in the database
//! afterwards, and no retry made a duplicate. On SQLite, or on `DATABASE_URL` when it is set.

#![expect(clippy::unwrap_used, reason = "a test fails loudly")]

mod support;

use std::time::Duration;

use support::{
    assert_each_acknowledged_once, free_port, http_client, provision_agency, start_service, start_writers,
    wait_for_acknowledged, wait_until_ready,
};

const WRITERS: usize = 4;
const CREATES_PER_WRITER: usize = 30;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_load_loses_no_acknowledged_write_and_retries_make_no_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = std::env::var("DATABASE_URL").ok();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = http_client();
    let mut service = start_service(dir.path(), port, database_url.as_deref());
    wait_until_ready(&client, &base).await;
    let agency = provision_agency(&client, &base, dir.path(), database_url.as_deref()).await;

    let total = WRITERS * CREATES_PER_WRITER;
    let (acknowledged, writers) = start_writers(&client, &base, &agency.token, WRITERS, CREATES_PER_WRITER);
    // Kill the service mid-load, twice (after a fifth and after half of the creates were
    // answered), and bring it back on the same data.
    for share in [5, 2] {
        wait_for_acknowledged(&acknowledged, total / share).await;
        assert!(acknowledged.lock().unwrap().len() < total, "the load was still running when the service was killed");
        service.kill().unwrap(); // SIGKILL: no drain, no shutdown hooks
        service.wait().unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        service = start_service(dir.path(), port, database_url.as_deref());
    }
    for writer in writers {
        writer.await.unwrap();
    }
    wait_until_ready(&client, &base).await;
    assert_each_acknowledged_once(&client, &base, &agency, &acknowledged, total, dir.path(), database_url.as_deref())
        .await;
    service.kill().unwrap();
    service.wait().unwrap();
}
