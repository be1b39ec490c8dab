//! PostgreSQL stopped at once (`pg_ctl stop -m immediate`: no checkpoint, as a crash or a power cut
//! would leave it) in the middle of a write load, with clients that retry with the same
//! `Idempotency-Key` until answered. While the database is down, readiness answers 503 and no
//! request hangs, and requests are refused with 503 and `Retry-After`; once it is back, the same service process recovers without a restart; every
//! create answered 2xx is in the database, and no retry made a duplicate.
//!
//! The test runs its own PostgreSQL cluster (initdb in a temporary directory, on a free port), so
//! stopping it disturbs nothing else. It runs in the PostgreSQL pass (`DATABASE_URL` set), where
//! PostgreSQL's programs are installed; on the SQLite pass it returns at once.

#![expect(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly")]

mod support;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use support::{
    assert_each_acknowledged_once, free_port, http_client, provision_agency, readiness, start_service, start_writers,
    wait_for_acknowledged, wait_until_ready,
};

const WRITERS: usize = 4;
const CREATES_PER_WRITER: usize = 30;

/// A throwaway PostgreSQL cluster owned by the test.
struct PrivatePostgres {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    _dir: tempfile::TempDir,
}

impl PrivatePostgres {
    /// The directory of `pg_ctl`, from `pg_config --bindir` or Debian's layout.
    fn bin_dir() -> PathBuf {
        if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
            && out.status.success()
        {
            let dir = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
            if dir.join("pg_ctl").exists() {
                return dir;
            }
        }
        let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL's programs are installed")
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|bin| bin.join("pg_ctl").exists())
            .collect();
        versions.sort();
        versions.pop().expect("pg_ctl is installed")
    }

    /// Runs a PostgreSQL program, as the `postgres` user when we are root (initdb refuses root).
    fn run(&self, program: &str, args: &[&str]) {
        let path = self.bin.join(program);
        let mut command = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        let out = command.args(args).output().unwrap();
        assert!(out.status.success(), "{program}: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn create() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        if is_root() {
            let uid = id_of("-u");
            let gid = id_of("-g");
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
            std::os::unix::fs::chown(&data, Some(uid), Some(gid)).unwrap();
        }
        let cluster = Self { bin: Self::bin_dir(), data, port: free_port(), _dir: dir };
        let data = cluster.data.to_str().unwrap();
        cluster.run("initdb", &["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]);
        cluster.start();
        cluster
    }

    fn start(&self) {
        let options = format!("-p {} -c listen_addresses=127.0.0.1 -k {}", self.port, self.data.display());
        let log = self.data.join("server.log");
        self.run(
            "pg_ctl",
            &["start", "-w", "-D", self.data.to_str().unwrap(), "-l", log.to_str().unwrap(), "-o", &options],
        );
    }

    /// Stops the server without a checkpoint or waiting for clients, as a crash would.
    fn stop_immediately(&self) {
        self.run("pg_ctl", &["stop", "-m", "immediate", "-w", "-D", self.data.to_str().unwrap()]);
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let pg_ctl = self.bin.join("pg_ctl");
        let data = self.data.to_str().unwrap_or_default().to_owned();
        let mut command = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(pg_ctl);
            c
        } else {
            Command::new(pg_ctl)
        };
        let _ = command.args(["stop", "-m", "immediate", "-D", &data]).output();
    }
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

fn id_of(flag: &str) -> u32 {
    let out = Command::new("id").args([flag, "postgres"]).output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_immediate_postgres_stop_mid_load_loses_no_acknowledged_write() {
    if std::env::var("DATABASE_URL").is_err() {
        eprintln!("runs in the PostgreSQL pass (DATABASE_URL set), where PostgreSQL's programs are installed");
        return;
    }
    let postgres = PrivatePostgres::create();
    let url = postgres.url();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = http_client();
    let mut service = start_service(dir.path(), port, Some(&url));
    wait_until_ready(&client, &base).await;
    let agency = provision_agency(&client, &base, dir.path(), Some(&url)).await;

    let total = WRITERS * CREATES_PER_WRITER;
    let (acknowledged, writers) = start_writers(&client, &base, &agency.token, WRITERS, CREATES_PER_WRITER);
    wait_for_acknowledged(&acknowledged, total / 4).await;
    postgres.stop_immediately();
    let at_stop = acknowledged.lock().unwrap().len();
    assert!(at_stop < total, "the load was still running when the database stopped");

    // While it is down: readiness says so with 503 within its own 2-second bound, and answers
    // rather than hangs (the client's timeout is 10 s).
    let asked = Instant::now();
    let (status, body) = readiness(&client, &base).await.expect("readiness answers while the database is down");
    assert!(asked.elapsed() < Duration::from_secs(5), "readiness took {:?}", asked.elapsed());
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["database"], "down");
    // Requests are refused as "unavailable, retry shortly", not as internal errors.
    let refused = client
        .post(format!("{base}/api/v1/clients"))
        .bearer_auth(&agency.token)
        .header("Idempotency-Key", "during-the-outage")
        .json(&serde_json::json!({"given_name": "Outage"}))
        .send()
        .await
        .expect("the service answers while the database is down");
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.headers()["retry-after"], "1");
    let problem: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(problem["code"], "unavailable");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let during = acknowledged.lock().unwrap().len();
    assert!(
        during <= at_stop + WRITERS,
        "writes were acknowledged while the database was down ({at_stop} -> {during})"
    );

    postgres.start();
    for writer in writers {
        writer.await.unwrap();
    }
    // The same process recovered: no restart of the service.
    assert!(service.try_wait().unwrap().is_none(), "the service exited");
    wait_until_ready(&client, &base).await;
    assert_each_acknowledged_once(&client, &base, &agency, &acknowledged, total, dir.path(), Some(&url)).await;
    service.kill().unwrap();
    service.wait().unwrap();
}
