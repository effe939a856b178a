//! A `setTimeout` future that can be polled from any task.
//!
//! workers-rs' `Delay` keeps the waker of the task that first polled it, so
//! a timer shared across tasks — a stream body is polled by a new task for
//! every read — wakes a task that no longer exists, and never fires for the
//! one waiting on it. This timer wakes whoever polled it last. It settles
//! through `crate::promise`'s shared callback: arming one costs a
//! `setTimeout` and no closure.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::promise::{self, Settled, TimerHandle};

/// Completes `ms` milliseconds after it was created.
pub struct Timer {
    fired: Settled,
    handle: Option<TimerHandle>,
}

impl Timer {
    /// Starts a timer.
    pub fn new(ms: u64) -> Self {
        // setTimeout fires at once for delays past i32::MAX: clamp them.
        let (fired, handle) = promise::timer(u32::try_from(ms.min(i32::MAX as u64)).unwrap_or(0));
        Self { fired, handle: Some(handle) }
    }
}

impl Future for Timer {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match Pin::new(&mut self.fired).poll(cx) {
            Poll::Ready(_) => {
                self.handle = None; // fired: nothing to cancel
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            promise::cancel_timer(handle);
        }
    }
}
