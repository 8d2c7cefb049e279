//! CPU time, the basis of a run's compute charge (`usage.cpu_ms`): what the run's own task spends polling its
//! nodes, and what nodes report of the blocking work they hand to other threads (the local model's
//! generation, and the memory crate's embedding and store calls, which [`memory::cpu::spent_by`] counts).
//! Measured with each thread's own CPU clock.

use std::future::Future;
use std::time::Duration;

pub use memory::cpu::{thread_time, timed};

/// Awaits `future`, with the CPU time spent polling it (on whichever threads polled it).
pub async fn metered<F: Future>(future: F) -> (F::Output, Duration) {
    let mut future = std::pin::pin!(future);
    let mut spent = Duration::ZERO;
    let output = std::future::poll_fn(|cx| {
        let (poll, took) = timed(|| future.as_mut().poll(cx));
        spent += took;
        poll
    })
    .await;
    (output, spent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn busy_polls_count_and_waiting_does_not() {
        let ((), busy) = metered(async {
            let started = thread_time();
            while thread_time().saturating_sub(started) < Duration::from_millis(20) {
                std::hint::black_box(());
            }
        })
        .await;
        assert!(busy >= Duration::from_millis(20), "{busy:?}");
        let ((), idle) = metered(tokio::time::sleep(Duration::from_millis(50))).await;
        assert!(idle < Duration::from_millis(10), "{idle:?}");
    }
}
