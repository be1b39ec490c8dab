//! Independent pieces of a build shared out among the cores (std's scoped threads: a build is
//! CPU-bound and runs on a blocking thread, so an async runtime or a thread pool crate would add
//! nothing).

use std::sync::atomic::{AtomicUsize, Ordering};

/// `work(0)`, ..., `work(jobs - 1)`, each on whichever core is free, in job order.
pub(super) fn on_every_core<T: Send>(jobs: usize, work: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let workers = std::thread::available_parallelism().map_or(1, std::num::NonZero::get).min(jobs.max(1));
    let next = AtomicUsize::new(0);
    let mut done: Vec<(usize, T)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let job = next.fetch_add(1, Ordering::Relaxed);
                        if job >= jobs {
                            break mine;
                        }
                        mine.push((job, work(job)));
                    }
                })
            })
            .collect();
        // A worker that panicked has a bug: surface it here rather than lose its part.
        handles.into_iter().flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))).collect()
    });
    done.sort_by_key(|(job, _)| *job);
    done.into_iter().map(|(_, out)| out).collect()
}
