// The dashboard's router: real paths (/logs/req_…, not #/logs), so links
// can be shared and opened in a new tab; the worker serves index.html for
// any of them. Same-origin links are followed with history.pushState, and
// each page's cleanup stops its timers when the operator moves on.

import './style.css';
import { whenUnauthorized } from './api';
import { NAVIGATED, type PageView } from './navigation';
import { audit } from './pages/audit';
import { evalCompare } from './pages/eval-compare';
import { evalRun } from './pages/eval-run';
import { evals } from './pages/evals';
import { keys } from './pages/keys';
import { logDetail } from './pages/log-detail';
import { login, type Notice } from './pages/login';
import { logs } from './pages/logs';
import { overview } from './pages/overview';
import { playground } from './pages/playground';
import { session } from './session';
import { h } from './dom';

const ROUTES: [RegExp, PageView, string][] = [
  [/^\/$/, overview, 'Overview'],
  [/^\/logs$/, logs, 'Logs'],
  [/^\/logs\/([^/]+)$/, logDetail, 'Request'],
  [/^\/evals$/, evals, 'Evals'],
  [/^\/evals\/compare$/, evalCompare, 'Compare runs'],
  [/^\/evals\/([^/]+)$/, evalRun, 'Eval run'],
  [/^\/keys$/, keys, 'Keys'],
  [/^\/audit$/, audit, 'Audit'],
  [/^\/playground$/, playground, 'Playground'],
];

const app = document.querySelector<HTMLElement>('#app')!;
const topbar = document.querySelector<HTMLElement>('.topbar')!;
const nav = document.querySelector<HTMLElement>('#nav')!;
const navToggle = document.querySelector<HTMLButtonElement>('.nav-toggle')!;

let cleanup: (() => void) | void;

function render(message?: Notice): void {
  cleanup?.();
  cleanup = undefined;
  setNavOpen(false);
  app.replaceChildren();
  if (!session.token()) {
    topbar.hidden = true;
    document.title = 'Sign in · Edgeway';
    login(app, () => render(), message);
    return;
  }
  topbar.hidden = false;
  const path = location.pathname.replace(/(.)\/+$/, '$1');
  const match = ROUTES.map(([pattern, page, title]) => ({ found: pattern.exec(path), page, title })).find((r) => r.found);
  for (const link of nav.querySelectorAll('a')) {
    const section = link.getAttribute('href')!;
    const current = section === '/' ? path === '/' : path === section || path.startsWith(`${section}/`);
    if (current) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (!match) {
    document.title = 'Not found · Edgeway';
    app.append(h('h1', {}, 'Not found'), h('p', {}, 'There is no page here. ', h('a', { href: '/' }, 'Go to the overview.')));
    return;
  }
  document.title = `${match.title} · Edgeway`;
  cleanup = match.page(app, match.found!.slice(1));
}

function setNavOpen(open: boolean): void {
  nav.classList.toggle('open', open);
  navToggle.setAttribute('aria-expanded', String(open));
}

// Follow same-origin links in the page; leave new-tab clicks, downloads
// and other origins to the browser.
document.addEventListener('click', (event) => {
  const link = (event.target as Element).closest('a');
  if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  if (link.target || link.hasAttribute('download') || link.origin !== location.origin) return;
  event.preventDefault();
  if (`${link.pathname}${link.search}` !== `${location.pathname}${location.search}`) history.pushState(null, '', `${link.pathname}${link.search}`);
  render();
});

window.addEventListener('popstate', () => render());
window.addEventListener(NAVIGATED, () => render());
navToggle.addEventListener('click', () => setNavOpen(!nav.classList.contains('open')));
document.querySelector('.logout')!.addEventListener('click', () => {
  session.signOut();
  render({ text: 'You are signed out.', tone: 'info' });
});

// A refused token (rotated, or mistyped in another tab) ends the session.
whenUnauthorized((error) => {
  if (!session.token()) return; // Already signed out by another call.
  session.signOut();
  render({ text: `The gateway refused the admin token (${error.message}; code ${error.code ?? `HTTP ${error.status}`}). Sign in again.`, tone: 'error' });
});

render();
