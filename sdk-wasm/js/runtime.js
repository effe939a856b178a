// What the SDK's Rust side takes from JavaScript: an Error subclass (Rust
// cannot declare one) and timers tied to an AbortSignal (a few lines here,
// several closures and their glue in Rust).

/**
 * Every error the SDK rejects with. `code` is stable: the gateway's own
 * codes passed through, plus `timeout`, `aborted` and `network` for calls
 * that never got an answer from it.
 */
export class EdgewayError extends Error {
  constructor(message, fields, cause) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'EdgewayError';
    Object.assign(this, fields);
  }
}

/**
 * One call's abort signal: it fires when the caller's signal does, when the
 * timeout passes, or on `abort()`, and remembers which it was.
 */
export class CallSignal {
  constructor(callerSignal, timeoutMs) {
    this.controller = new AbortController();
    this.reason = undefined;
    this.caller = callerSignal ?? undefined;
    this.onCallerAbort = () => this.fire('aborted');
    if (this.caller?.aborted) this.fire('aborted');
    else this.caller?.addEventListener('abort', this.onCallerAbort, { once: true });
    if (timeoutMs > 0 && Number.isFinite(timeoutMs)) this.timer = setTimeout(() => this.fire('timeout'), timeoutMs);
  }

  get signal() {
    return this.controller.signal;
  }

  fire(reason) {
    if (this.reason !== undefined) return;
    this.reason = reason;
    this.dispose();
    this.controller.abort(new DOMException(reason === 'timeout' ? 'The call timed out' : 'The call was aborted', reason === 'timeout' ? 'TimeoutError' : 'AbortError'));
  }

  abort() {
    this.fire('aborted');
  }

  /** Stops the timer and lets go of the caller's signal once the call is over. */
  dispose() {
    clearTimeout(this.timer);
    this.caller?.removeEventListener('abort', this.onCallerAbort);
  }
}

/** Resolves after `ms`, or rejects as soon as `signal` aborts. */
export function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Marks `promise` as handled (its rejection is also reported elsewhere). */
export function handled(promise) {
  promise.catch(() => {});
  return promise;
}
