//! The one place the worker reads the clock and the CSPRNG.
//!
//! Core never reads either (its contract); everything it decides about time
//! gets `now` from here, which is also where test mode's movable clock
//! (`crate::test_mode`) takes effect.

/// Milliseconds since the Unix epoch. In Workers the clock only advances
/// across I/O (a Spectre mitigation), which is what timing I/O needs.
pub fn now_ms() -> u64 {
    js_sys::Date::now() as u64 + crate::test_mode::clock_offset_ms()
}

thread_local! {
    /// The runtime's `crypto`, looked up once per isolate. (Not through
    /// `WorkerGlobalScope`: workerd's global is not an instance of it.)
    static CRYPTO: Option<web_sys::Crypto> = js_sys::Reflect::get(&js_sys::global(), &"crypto".into())
        .ok()
        .filter(|crypto| crypto.is_object())
        .map(wasm_bindgen::JsCast::unchecked_into);
    /// Makes ids unique should the CSPRNG ever fail (see `random_bytes`).
    static FALLBACK_COUNTER: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// `N` bytes from the runtime's CSPRNG (`crypto.getRandomValues`), or
/// `None` if it failed, which it does not in Workers. For secrets.
pub fn secret_bytes<const N: usize>() -> Option<[u8; N]> {
    let mut bytes = [0u8; N];
    CRYPTO.with(|crypto| crypto.as_ref().is_some_and(|c| c.get_random_values_with_u8_array(&mut bytes).is_ok())).then_some(bytes)
}

/// `N` random bytes for ids and jitter: the CSPRNG's, or, if it ever
/// failed, bytes that are at least unique within the isolate (the time and
/// a counter). Secrets use [`secret_bytes`], which has no such fallback.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    secret_bytes().unwrap_or_else(|| {
        let count = FALLBACK_COUNTER.with(|c| {
            c.set(c.get().wrapping_add(1));
            c.get()
        });
        let mut bytes = [0u8; N];
        let seed = (js_sys::Date::now() as u64).to_le_bytes().into_iter().chain(count.to_le_bytes()).cycle();
        for (byte, from) in bytes.iter_mut().zip(seed) {
            *byte = from;
        }
        bytes
    })
}

/// A timeout for a sequence of waits whose deadline keeps moving, like the
/// idle time between stream chunks. Re-arming a timer for every chunk costs
/// a JS timer and a closure each time; this keeps one timer and only
/// replaces it when it would fire too late. A timer that fires too early
/// (the deadline moved on since) is simply re-armed for the rest.
#[derive(Default)]
pub struct Watchdog {
    timer: Option<std::pin::Pin<Box<crate::timer::Timer>>>,
    fires_at: u64,
}

impl Watchdog {
    /// Runs `future` until `due_ms` (ms since epoch); `None` if the deadline
    /// came first.
    pub async fn race<F: std::future::Future>(&mut self, due_ms: u64, future: F) -> Option<F::Output> {
        use futures_util::future::{select, Either};
        let mut future = std::pin::pin!(future);
        loop {
            let now = now_ms();
            if now >= due_ms {
                return None;
            }
            let timer = match self.timer.as_mut() {
                Some(timer) if self.fires_at <= due_ms => timer,
                _ => {
                    self.fires_at = due_ms;
                    self.timer.insert(Box::pin(crate::timer::Timer::new(due_ms - now)))
                }
            };
            match select(future.as_mut(), timer.as_mut()).await {
                Either::Left((output, _)) => return Some(output),
                Either::Right(_) => self.timer = None,
            }
        }
    }
}

/// The runtime's CSPRNG as core's `Rng` (for backoff jitter and weights).
pub struct CryptoRng;

impl edgeway_core::reliability::rng::Rng for CryptoRng {
    fn next_u64(&mut self) -> u64 {
        u64::from_le_bytes(random_bytes())
    }
}
