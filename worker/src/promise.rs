//! Awaiting a JS promise from Rust, cheaply.
//!
//! wasm-bindgen-futures' `JsFuture` makes two Rust closures for every
//! promise it awaits — each a new JS function, a slot in the wasm table and
//! an entry in a finalization registry — and tears them down again when the
//! promise settles. A request awaits a handful of promises (its body, the
//! upstream's headers, the upstream's body) and a streamed answer one per
//! chunk, so that bookkeeping showed up in every profile. Here one callback,
//! made once per isolate, settles every promise: a pending promise is a slot
//! in a table, and JS hands the callback the slot's index.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsValue;

/// A promise's outcome, and the task waiting for it.
#[derive(Default)]
struct Slot {
    outcome: Option<Result<JsValue, JsValue>>,
    waker: Option<Waker>,
}

type Shared = Rc<RefCell<Slot>>;

/// The promises in flight, by index. An index is reused only once its
/// promise has settled, so a late callback can never reach another's slot.
#[derive(Default)]
struct Table {
    slots: Vec<Option<Shared>>,
    free: Vec<u32>,
}

thread_local! {
    static TABLE: RefCell<Table> = RefCell::new(Table::default());
    static SETTLE: Closure<dyn FnMut(u32, bool, JsValue)> = Closure::new(settle);
    /// Set while `settle` wakes a task: see [`settling`].
    static SETTLING: Cell<bool> = const { Cell::new(false) };
}

/// Whether the current wake-up comes straight from `settle`, which JS calls
/// with no Rust code on the stack: the task woken may then be polled on the
/// spot (`crate::executor`). Only the first wake-up can be: the flag is
/// cleared on reading, so a task woken while that poll runs waits its turn.
pub fn take_settling() -> bool {
    SETTLING.with(|s| s.replace(false))
}

/// Called from JS when the promise in slot `index` settles.
fn settle(index: u32, fulfilled: bool, value: JsValue) {
    let slot = release(index);
    // The future may have been dropped (a timeout won the race): then no
    // one is waiting, and the outcome is simply dropped with the slot.
    let Some(slot) = slot else { return };
    let waker = {
        let mut slot = slot.borrow_mut();
        slot.outcome = Some(if fulfilled { Ok(value) } else { Err(value) });
        slot.waker.take()
    };
    if let Some(waker) = waker {
        SETTLING.with(|s| s.set(true));
        waker.wake();
        SETTLING.with(|s| s.set(false));
    }
}

/// A future of `promise`'s outcome: `Ok` with its value, or `Err` with
/// what it was rejected with.
pub fn settled(promise: &js_sys::Promise) -> Settled {
    let (index, settled) = pending();
    SETTLE.with(|callback| js::watch(promise, index, callback));
    settled
}

/// A future of the next chunk `reader` reads: `Ok` with the chunk (a
/// `Uint8Array`) or with `undefined` at the end of the stream, `Err` with
/// what the read failed with. The read result is unpacked in JS, where
/// reading its `done` and `value` from Rust was two calls more per chunk.
pub fn next_chunk(reader: &web_sys::ReadableStreamDefaultReader) -> Settled {
    let (index, settled) = pending();
    SETTLE.with(|callback| js::watch_read(reader, index, callback));
    settled
}

/// A future that completes `ms` milliseconds from now, and the handle that
/// [`cancel_timer`] takes. It settles through the same callback as the
/// promises, so a timer costs no closure of its own either.
pub fn timer(ms: u32) -> (Settled, TimerHandle) {
    let (index, settled) = pending();
    let id = SETTLE.with(|callback| js::set_timer(ms, index, callback));
    (settled, TimerHandle { id, index })
}

/// A timer that may still fire.
pub struct TimerHandle {
    id: JsValue,
    index: u32,
}

/// Stops a timer that has not fired, and frees its slot (its callback will
/// never come). A timer that fired already is left alone.
pub fn cancel_timer(handle: TimerHandle) {
    if release(handle.index).is_some() {
        js::clear_timer(&handle.id);
    }
}

/// Empties slot `index` and frees it for reuse; `None` if it was empty
/// (settled already).
fn release(index: u32) -> Option<Shared> {
    TABLE.with(|table| {
        let mut table = table.borrow_mut();
        let slot = table.slots.get_mut(index as usize).and_then(Option::take);
        if slot.is_some() {
            table.free.push(index);
        }
        slot
    })
}

/// A new slot, and the future that reads it.
fn pending() -> (u32, Settled) {
    let slot = Shared::default();
    let index = TABLE.with(|table| {
        let mut table = table.borrow_mut();
        match table.free.pop() {
            Some(index) => {
                if let Some(free) = table.slots.get_mut(index as usize) {
                    *free = Some(Rc::clone(&slot));
                }
                index
            }
            None => {
                table.slots.push(Some(Rc::clone(&slot)));
                u32::try_from(table.slots.len() - 1).unwrap_or(u32::MAX)
            }
        }
    });
    (index, Settled { slot })
}

/// See [`settled`] and [`timer`].
pub struct Settled {
    slot: Shared,
}

impl Future for Settled {
    type Output = Result<JsValue, JsValue>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut slot = self.slot.borrow_mut();
        if let Some(outcome) = slot.outcome.take() {
            return Poll::Ready(outcome);
        }
        match &slot.waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            _ => slot.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

mod js {
    use wasm_bindgen::prelude::wasm_bindgen;

    #[wasm_bindgen(inline_js = "export function watch(p, i, settle) { p.then((v) => settle(i, true, v), (e) => settle(i, false, e)); } \
        export function watch_read(reader, i, settle) { reader.read().then((r) => settle(i, true, r.done ? undefined : r.value), (e) => settle(i, false, e)); } \
        export function set_timer(ms, i, settle) { return setTimeout(settle, ms, i, true, undefined); } \
        export function clear_timer(id) { clearTimeout(id); }")]
    extern "C" {
        pub fn watch(promise: &js_sys::Promise, index: u32, settle: &Settle);
        pub fn watch_read(reader: &web_sys::ReadableStreamDefaultReader, index: u32, settle: &Settle);
        pub fn set_timer(ms: u32, index: u32, settle: &Settle) -> wasm_bindgen::JsValue;
        pub fn clear_timer(id: &wasm_bindgen::JsValue);
    }

    type Settle = wasm_bindgen::closure::Closure<dyn FnMut(u32, bool, wasm_bindgen::JsValue)>;
}
