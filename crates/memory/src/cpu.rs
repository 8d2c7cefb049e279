//! CPU time this crate spends for a caller on blocking threads (embedding texts with the local model,
//! SQLite calls), so a caller that bills CPU can count it: run the call inside [`spent_by`], which adds up
//! what the blocking work started during it took, measured with each worker thread's own CPU clock. Work
//! done elsewhere (a remote embedding endpoint, a Qdrant server) is not this process's CPU and is not
//! counted.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

tokio::task_local! {
    /// Nanoseconds of blocking work done for the current [`spent_by`].
    static SPENT: Arc<AtomicU64>;
}

/// The CPU time the calling thread has used so far.
#[must_use]
pub fn thread_time() -> Duration {
    let spent = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(
        u64::try_from(spent.tv_sec).unwrap_or_default(),
        u32::try_from(spent.tv_nsec).unwrap_or_default(),
    )
}

/// Runs `work` on this thread, with the CPU time it took.
pub fn timed<T>(work: impl FnOnce() -> T) -> (T, Duration) {
    let before = thread_time();
    let output = work();
    (output, thread_time().saturating_sub(before))
}

/// Awaits `future` (a call into this crate), with the CPU time its blocking work took on other threads.
pub async fn spent_by<F: Future>(future: F) -> (F::Output, Duration) {
    let spent = Arc::new(AtomicU64::new(0));
    let output = SPENT.scope(Arc::clone(&spent), future).await;
    (output, Duration::from_nanos(spent.load(Ordering::Relaxed)))
}

/// Runs `work` on a blocking thread (inline outside a Tokio runtime), counting its CPU time for the
/// caller's [`spent_by`], if any.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> crate::Result<T> + Send + 'static,
) -> crate::Result<T> {
    let spent = SPENT.try_with(Arc::clone).ok();
    let counted = move || {
        let (output, took) = timed(work);
        if let Some(spent) = spent {
            let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
            spent.fetch_add(nanos, Ordering::Relaxed);
        }
        output
    };
    if tokio::runtime::Handle::try_current().is_err() {
        return counted();
    }
    tokio::task::spawn_blocking(counted).await?
}
