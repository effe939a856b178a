//! A `setTimeout` future that can be polled from any task.
//!
//! workers-rs' `Delay` keeps the waker of the task that first polled it, so
//! a timer shared across tasks — a stream body is polled by a new task for
//! every read — wakes a task that no longer exists, and never fires for the
//! one waiting on it. This timer wakes whoever polled it last.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

#[derive(Default)]
struct Shared {
    fired: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

/// Completes `ms` milliseconds after it was created.
pub struct Timer {
    shared: Rc<Shared>,
    timeout_id: Option<i32>,
    // Kept alive until the timer is dropped: JS holds a reference to it.
    _callback: Closure<dyn FnMut()>,
}

impl Timer {
    /// Starts a timer.
    pub fn new(ms: u64) -> Self {
        let shared = Rc::new(Shared::default());
        let on_fire = Rc::clone(&shared);
        let callback = Closure::<dyn FnMut()>::new(move || {
            on_fire.fired.set(true);
            if let Some(waker) = on_fire.waker.borrow_mut().take() {
                waker.wake();
            }
        });
        let scope: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
        let delay = i32::try_from(ms).unwrap_or(i32::MAX);
        let timeout_id = scope
            .set_timeout_with_callback_and_timeout_and_arguments_0(callback.as_ref().unchecked_ref(), delay)
            .ok();
        if timeout_id.is_none() {
            // setTimeout cannot fail in workerd; if it did, fire at once
            // rather than wait forever.
            shared.fired.set(true);
        }
        Self { shared, timeout_id, _callback: callback }
    }
}

impl Future for Timer {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.shared.fired.get() {
            return Poll::Ready(());
        }
        let mut waker = self.shared.waker.borrow_mut();
        match waker.as_ref() {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => *waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        if let (false, Some(id)) = (self.shared.fired.get(), self.timeout_id) {
            let scope: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
            scope.clear_timeout_with_handle(id);
        }
    }
}
