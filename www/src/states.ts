// The three states every view can be in besides "here is the data":
// loading, empty, and failed. Failures show the API's own message and code,
// which is what an operator searches the docs or the gateway's logs for.

import { ApiError } from './api';
import { h } from './dom';

export function loading(text = 'Loading…'): HTMLElement {
  return h('p', { class: 'state loading', role: 'status' }, text);
}

export function empty(text: string): HTMLElement {
  return h('p', { class: 'state empty' }, text);
}

export function failure(error: unknown, what = 'Something went wrong'): HTMLElement {
  const box = h('div', { class: 'state error', role: 'alert' }, h('strong', {}, `${what}: `), h('span', { class: 'error-message' }, messageOf(error)));
  if (error instanceof ApiError) {
    const details = [error.code && `code ${error.code}`, error.param && `field ${error.param}`, error.status && `HTTP ${error.status}`, error.requestId].filter(Boolean);
    if (details.length) box.append(' ', h('code', { class: 'error-code' }, details.join(' · ')));
  }
  return box;
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
