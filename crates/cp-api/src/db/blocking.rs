//! How SQLite's blocking calls run: on tokio's blocking pool, and never abandoned half-way.
//!
//! diesel-async's SQLite connection needs every call to have finished before the next touches the
//! connection, so a call whose future is dropped early (a client went away mid-request) must still be
//! waited for. diesel-async's own runtime hook waits with `block_in_place`, which panics on actix's
//! single-threaded workers; this one waits on a condition variable instead. The wait is as long as the
//! statement in flight, and nothing the statement needs runs on the waiting thread.

use std::error::Error;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::task::{Context, Poll};

use diesel_async::sync_connection_wrapper::SpawnBlocking;
use futures_util::future::BoxFuture;
use tokio::task::JoinHandle;

#[derive(Debug)]
pub struct FinishOnDrop;

/// Set when a blocking call has returned (or unwound), for a dropped future to wait on.
#[derive(Default)]
struct Finished {
    done: Mutex<bool>,
    signal: Condvar,
}

impl Finished {
    fn set(&self) {
        *self.done.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.signal.notify_all();
    }

    fn wait(&self) {
        let mut done = self.done.lock().unwrap_or_else(PoisonError::into_inner);
        while !*done {
            done = self.signal.wait(done).unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// Sets [`Finished`] when the call ends, whether it returns or panics.
struct SetOnExit(Arc<Finished>);

impl Drop for SetOnExit {
    fn drop(&mut self) {
        self.0.set();
    }
}

struct Call<R> {
    handle: JoinHandle<R>,
    finished: Arc<Finished>,
}

impl<R> Future for Call<R> {
    type Output = Result<R, Box<dyn Error + Send + Sync + 'static>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.handle)
            .poll(cx)
            .map(|outcome| outcome.map_err(|error| Box::new(error) as _))
    }
}

impl<R> Drop for Call<R> {
    fn drop(&mut self) {
        if !self.handle.is_finished() {
            self.finished.wait();
        }
    }
}

impl SpawnBlocking for FinishOnDrop {
    fn spawn_blocking<'a, R>(
        &mut self,
        task: impl FnOnce() -> R + Send + 'static,
    ) -> BoxFuture<'a, Result<R, Box<dyn Error + Send + Sync + 'static>>>
    where
        R: Send + 'static,
    {
        let finished = Arc::new(Finished::default());
        let on_exit = SetOnExit(Arc::clone(&finished));
        let handle = tokio::task::spawn_blocking(move || {
            let _on_exit = on_exit;
            task()
        });
        Box::pin(Call { handle, finished })
    }

    fn get_runtime() -> Self {
        Self
    }
}
