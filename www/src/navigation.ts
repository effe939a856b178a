// What pages and the router share: the shape of a page, and moving to
// another path without reloading (history.pushState, then the router
// renders). Pages import this rather than main.ts, which imports them.

export const NAVIGATED = 'edgeway:navigated';

/** Renders into `root`; returns what stops its timers and requests. */
export type PageView = (root: HTMLElement, params: string[]) => (() => void) | void;

export function navigate(path: string): void {
  if (path !== `${location.pathname}${location.search}`) history.pushState(null, '', path);
  window.dispatchEvent(new Event(NAVIGATED));
}
