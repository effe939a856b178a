//! Runs the fetch handler's future, polling it the moment what it waits on
//! is ready.
//!
//! wasm-bindgen-futures (what `#[event(fetch)]` uses) polls a woken task
//! from a microtask it queues for the purpose, so every promise a request
//! awaits costs a `queueMicrotask` call and one more turn before the
//! handler goes on. A request's task here is polled directly from the
//! callback that settles its promise or fires its timer (`crate::promise`):
//! JS called that callback with no Rust code on the stack, so nothing the
//! task touches can be borrowed already. A wake from anywhere else (a
//! workers-rs future, a channel) takes the safe path through a microtask.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use wasm_bindgen::JsValue;

type Boxed = Pin<Box<dyn Future<Output = JsValue>>>;

struct Task {
    future: RefCell<Option<Boxed>>,
    /// Resolves the promise the runtime holds.
    resolve: RefCell<Option<js_sys::Function>>,
    polling: Cell<bool>,
    /// Woken while being polled: poll again before giving up the turn.
    woken: Cell<bool>,
    /// A microtask is already queued to poll it.
    queued: Cell<bool>,
}

/// Runs `future` and returns a promise of its output.
pub fn spawn(future: impl Future<Output = JsValue> + 'static) -> js_sys::Promise {
    let mut resolve = None;
    let promise = js_sys::Promise::new(&mut |on_resolve, _| resolve = Some(on_resolve));
    start(Box::pin(future), resolve);
    promise
}

/// Runs `future` after the response, as `ctx.waitUntil` work: the runtime
/// keeps the request alive until it is done. workers-rs' `wait_until`
/// would run it through wasm-bindgen-futures instead, whose wrapping of a
/// future this size cost a 10 KB allocation and copy before each streamed
/// response went out.
pub fn wait_until(ctx: &worker::Context, future: impl Future<Output = ()> + 'static) {
    let done = spawn(valued(future));
    // It throws only outside a request, where no handler runs this.
    let _ = ctx.as_ref().wait_until(&done);
}

/// Runs `future` to its end, with no promise for anyone to wait on (a
/// streamed body's writer: the runtime waits on the body instead).
pub fn detach(future: impl Future<Output = ()> + 'static) {
    start(Box::pin(valued(future)), None);
}

/// `future` with the `undefined` a task's promise resolves with. `map`,
/// not an async block: a block would hold the future twice over.
fn valued(future: impl Future<Output = ()>) -> impl Future<Output = JsValue> {
    futures_util::FutureExt::map(future, |()| JsValue::UNDEFINED)
}

fn start(future: Boxed, resolve: Option<js_sys::Function>) {
    let task = Rc::new(Task {
        future: RefCell::new(Some(future)),
        resolve: RefCell::new(resolve),
        polling: Cell::new(false),
        woken: Cell::new(false),
        queued: Cell::new(false),
    });
    run(&task);
}

/// Polls the task until it is done or waits on something not yet ready.
fn run(task: &Rc<Task>) {
    if task.polling.replace(true) {
        task.woken.set(true);
        return;
    }
    loop {
        task.woken.set(false);
        let waker = waker(Rc::clone(task));
        let mut cx = Context::from_waker(&waker);
        let output = {
            let mut slot = task.future.borrow_mut();
            let Some(future) = slot.as_mut() else { break };
            match future.as_mut().poll(&mut cx) {
                Poll::Ready(output) => {
                    *slot = None;
                    Some(output)
                }
                Poll::Pending => None,
            }
        };
        if let Some(output) = output {
            if let Some(resolve) = task.resolve.borrow_mut().take() {
                let _ = resolve.call1(&JsValue::UNDEFINED, &output);
            }
            break;
        }
        if !task.woken.get() {
            break;
        }
    }
    task.polling.set(false);
}

fn wake(task: Rc<Task>) {
    if task.polling.get() {
        task.woken.set(true);
    } else if crate::promise::take_settling() {
        run(&task);
    } else if !task.queued.replace(true) {
        wasm_bindgen_futures::spawn_local(async move {
            task.queued.set(false);
            run(&task);
        });
    }
}

fn waker(task: Rc<Task>) -> Waker {
    // SAFETY: the vtable's functions treat the pointer as what it is, an
    // `Rc<Task>` turned into a raw pointer, and keep its count right: clone
    // adds one, wake and drop take one, wake_by_ref leaves it. A Worker
    // isolate runs the wasm on one thread, so the `Rc` never crosses one.
    unsafe { Waker::from_raw(raw(task)) }
}

fn raw(task: Rc<Task>) -> RawWaker {
    RawWaker::new(Rc::into_raw(task).cast(), &VTABLE)
}

static VTABLE: RawWakerVTable = RawWakerVTable::new(clone_raw, wake_raw, wake_by_ref_raw, drop_raw);

unsafe fn clone_raw(ptr: *const ()) -> RawWaker {
    // SAFETY: `ptr` came from `Rc::into_raw` (see `waker`) and is still live.
    let task = std::mem::ManuallyDrop::new(unsafe { Rc::from_raw(ptr.cast::<Task>()) });
    raw(Rc::clone(&task))
}

unsafe fn wake_raw(ptr: *const ()) {
    // SAFETY: as in `clone_raw`; this consumes the waker's count.
    wake(unsafe { Rc::from_raw(ptr.cast::<Task>()) });
}

unsafe fn wake_by_ref_raw(ptr: *const ()) {
    // SAFETY: as in `clone_raw`.
    let task = std::mem::ManuallyDrop::new(unsafe { Rc::from_raw(ptr.cast::<Task>()) });
    wake(Rc::clone(&task));
}

unsafe fn drop_raw(ptr: *const ()) {
    // SAFETY: as in `clone_raw`; this gives up the waker's count.
    drop(unsafe { Rc::from_raw(ptr.cast::<Task>()) });
}
