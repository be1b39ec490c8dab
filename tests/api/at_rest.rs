//! What an intruder with the disk would read: the bytes the database keeps, to search for
//! personal-data canaries. On SQLite, the database file and its write-ahead log. On PostgreSQL,
//! `pg_dump --data-only` (what a backup holds) and the raw write-ahead-log segments written while the
//! test ran (what the server wrote before any table page, and what archiving and replicas receive).

use crate::helpers::{TestApp, on_postgres};

/// One place data rests, and its bytes.
pub struct Source {
    pub name: &'static str,
    pub bytes: Vec<u8>,
}

/// The write-ahead log's position before the test wrote anything (PostgreSQL only).
pub struct WalMark(Option<String>);

fn psql_value(query: &str) -> String {
    let url = std::env::var("DATABASE_URL").expect("DATABASE_URL on PostgreSQL");
    let out = std::process::Command::new("psql").args(["-XAt", "-v", "ON_ERROR_STOP=1", &url, "-c", query]).output();
    let out = out.expect("psql runs");
    assert!(out.status.success(), "psql: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn current_wal_segment() -> String {
    psql_value("SELECT pg_walfile_name(pg_current_wal_lsn())")
}

impl WalMark {
    /// Call before the test writes its canaries.
    pub fn now() -> Self {
        Self(on_postgres().then(current_wal_segment))
    }
}

/// Every place the test's writes rest, each of which must be searched.
pub fn sources(app: &TestApp, mark: &WalMark) -> Vec<Source> {
    if !on_postgres() {
        // One source: a row may still be in the log, not yet checkpointed into the file.
        let bytes: Vec<u8> = ["vcao.sqlite", "vcao.sqlite-wal"]
            .iter()
            .flat_map(|file| std::fs::read(app.data_dir.path().join(file)).unwrap_or_default())
            .collect();
        assert!(bytes.len() > 10_000, "the SQLite files were read");
        return vec![Source { name: "vcao.sqlite and vcao.sqlite-wal", bytes }];
    }
    let dump = std::process::Command::new("pg_dump")
        .arg("--data-only")
        .arg(std::env::var("DATABASE_URL").unwrap())
        .output()
        .expect("pg_dump runs");
    assert!(dump.status.success(), "pg_dump: {}", String::from_utf8_lossy(&dump.stderr));

    // Segment names are 24 hex digits (timeline, log, segment) that sort in write order.
    let first = mark.0.clone().expect("WalMark::now was called on PostgreSQL");
    let last = current_wal_segment();
    let wal_dir = std::path::Path::new(&psql_value("SHOW data_directory")).join("pg_wal");
    let mut segments: Vec<_> = std::fs::read_dir(&wal_dir)
        .unwrap_or_else(|e| panic!("{} must be readable by the tests: {e}", wal_dir.display()))
        .filter_map(|entry| entry.ok().and_then(|e| e.file_name().into_string().ok()))
        .filter(|name| name.len() == 24 && name.as_str() >= first.as_str() && name.as_str() <= last.as_str())
        .collect();
    segments.sort();
    assert!(!segments.is_empty(), "no WAL segment between {first} and {last}");
    let wal = segments.iter().flat_map(|name| std::fs::read(wal_dir.join(name)).unwrap()).collect();
    vec![Source { name: "pg_dump --data-only", bytes: dump.stdout }, Source { name: "pg_wal segments", bytes: wal }]
}

/// Asserts that every source holds `proof` (so it is the real data, not an empty file) and none
/// holds any of `canaries`.
pub fn assert_no_canaries(sources: &[Source], proof: &str, canaries: &[&str]) {
    for source in sources {
        let text = String::from_utf8_lossy(&source.bytes);
        assert!(text.contains(proof), "{} holds {proof}, so it is real ({} bytes)", source.name, source.bytes.len());
        for canary in canaries {
            assert!(!text.contains(canary), "{canary} found in plaintext in {}", source.name);
        }
    }
}

/// The keys and values the service keeps in Redis under the app's namespace, when `REDIS_URL` is
/// set (read by type, so nothing is hidden in a hash or a list). None without Redis.
pub async fn redis_source(app: &TestApp) -> Option<Source> {
    let url = std::env::var("REDIS_URL").ok()?;
    let client = redis::Client::open(url).unwrap();
    let mut redis = client.get_multiplexed_async_connection().await.unwrap();
    let mut keys: Vec<String> = Vec::new();
    let mut cursor = 0_u64;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{}:*", app.redis_namespace))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut redis)
            .await
            .unwrap();
        keys.extend(batch);
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    let mut bytes = Vec::new();
    for key in keys {
        let kind: String = redis::cmd("TYPE").arg(&key).query_async(&mut redis).await.unwrap();
        let read = match kind.as_str() {
            "string" => redis::cmd("GET").arg(&key).to_owned(),
            "hash" => redis::cmd("HGETALL").arg(&key).to_owned(),
            "list" => redis::cmd("LRANGE").arg(&key).arg(0).arg(-1).to_owned(),
            "set" => redis::cmd("SMEMBERS").arg(&key).to_owned(),
            "zset" => redis::cmd("ZRANGE").arg(&key).arg(0).arg(-1).arg("WITHSCORES").to_owned(),
            "none" => continue, // expired between SCAN and TYPE
            other => panic!("Redis key {key} is a {other}; read it here too"),
        };
        let values: Vec<Vec<u8>> = match kind.as_str() {
            "string" => vec![read.query_async::<Vec<u8>>(&mut redis).await.unwrap()],
            _ => read.query_async(&mut redis).await.unwrap(),
        };
        bytes.extend_from_slice(key.as_bytes());
        bytes.push(b'\n');
        for value in values {
            bytes.extend(value);
            bytes.push(b'\n');
        }
    }
    Some(Source { name: "Redis keys and values", bytes })
}
