//! Open-loop load: requests start at a constant rate whatever the service does, and each latency is
//! measured from the request's *intended* start, so a stall counts for every request it delays
//! (no coordinated omission, as in wrk2).
//!
//! Usage: `open_loop` with, in the environment:
//! - `OL_URL`: the URL; `{id}` is replaced by a random line of `OL_IDS` (e.g. `.../cases/{id}`);
//! - `OL_METHOD`: `GET` (default) or `POST`; `OL_BODY`: the JSON body, `{id}` replaced likewise;
//! - `OL_IDS`: a file of ids, one a line; `OL_TOKEN`: the bearer token;
//! - `OL_RATE`: requests a second (default 100); `OL_SECONDS`: duration (default 30);
//! - `OL_WARMUP`: seconds at the same rate before measuring (default 2).
//!
//! Prints one line: `sent ok errors rate p50 p90 p99 p999 max` (milliseconds).
//! `bench/requests.sh` runs it.

#![expect(clippy::unwrap_used, reason = "a benchmark fails loudly")]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let url = env("OL_URL", "http://127.0.0.1:18094/health/live");
    let post = env("OL_METHOD", "GET").eq_ignore_ascii_case("POST");
    let body = std::env::var("OL_BODY").ok();
    let token = std::env::var("OL_TOKEN").ok();
    let ids: Vec<String> = std::env::var("OL_IDS")
        .ok()
        .map(|path| {
            std::fs::read_to_string(path).unwrap().lines().map(str::to_owned).filter(|l| !l.is_empty()).collect()
        })
        .unwrap_or_default();
    let rate: f64 = env("OL_RATE", "100").parse().unwrap();
    let seconds: f64 = env("OL_SECONDS", "30").parse().unwrap();
    let warmup: f64 = env("OL_WARMUP", "2").parse().unwrap();
    let client = reqwest::Client::builder().pool_max_idle_per_host(1024).build().unwrap();
    let (url, body, token, ids) = (Arc::new(url), Arc::new(body), Arc::new(token), Arc::new(ids));

    let interval = 1.0 / rate;
    let warm_n = (warmup * rate) as u64;
    let total = warm_n + (seconds * rate) as u64;
    let errors = Arc::new(AtomicU64::new(0));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Duration>();
    let start = Instant::now() + Duration::from_millis(50);
    let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
    for i in 0..total {
        let intended = start + Duration::from_secs_f64(i as f64 * interval);
        tokio::time::sleep_until(intended.into()).await;
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let id = if ids.is_empty() { String::new() } else { ids[(seed % ids.len() as u64) as usize].clone() };
        let (client, url, body, token, tx, errors) =
            (client.clone(), Arc::clone(&url), Arc::clone(&body), Arc::clone(&token), tx.clone(), Arc::clone(&errors));
        let measured = i >= warm_n;
        tokio::spawn(async move {
            let target = url.replace("{id}", &id);
            let mut request = if post { client.post(target) } else { client.get(target) };
            if let Some(body) = body.as_ref() {
                request = request.header("Content-Type", "application/json").body(body.replace("{id}", &id));
            }
            if let Some(token) = token.as_ref() {
                request = request.bearer_auth(token);
            }
            let ok = match request.send().await {
                Ok(response) => {
                    let good = response.status().is_success();
                    let _ = response.bytes().await;
                    good
                }
                Err(_) => false,
            };
            if measured {
                if !ok {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
                let _ = tx.send(intended.elapsed());
            }
        });
    }
    drop(tx);
    let mut latencies = Vec::with_capacity(total as usize);
    while let Some(l) = rx.recv().await {
        latencies.push(l);
    }
    let elapsed = start.elapsed().as_secs_f64() - warmup;
    latencies.sort_unstable();
    let q = |p: f64| {
        let rank = ((p * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len().max(1));
        latencies.get(rank - 1).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    let sent = latencies.len();
    let errs = errors.load(Ordering::Relaxed);
    println!(
        "sent {sent} ok {} errors {errs} rate {:.1} p50 {:.2} p90 {:.2} p99 {:.2} p999 {:.2} max {:.2}",
        sent as u64 - errs,
        sent as f64 / elapsed,
        q(0.50),
        q(0.90),
        q(0.99),
        q(0.999),
        q(1.0)
    );
}
