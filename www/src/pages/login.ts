// Sign in: the admin token is checked against the gateway before it is
// kept, so a typo is caught here rather than as a failure on every page.

import { ApiError, api } from '../api';
import { fill, h, labelled } from '../dom';
import { session } from '../session';
import { failure } from '../states';

/** Why the operator is here again: signed out, or the token was refused. */
export interface Notice {
  text: string;
  tone: 'info' | 'error';
}

export function login(root: HTMLElement, onSignedIn: () => void, notice?: Notice): void {
  const token = h('input', { name: 'token', type: 'password', required: true, autocomplete: 'current-password', spellcheck: 'false' });
  const submit = h('button', { type: 'submit' }, 'Sign in');
  const problem = h('div', {}, notice ? h('p', { class: `state ${notice.tone}`, role: notice.tone === 'error' ? 'alert' : 'status' }, notice.text) : null);
  const form = h(
    'form',
    { class: 'panel login' },
    h('h1', {}, 'Edgeway'),
    h('p', { class: 'muted' }, 'Sign in with the gateway’s admin token (the EDGEWAY_ADMIN_TOKEN secret). It is kept in this tab only.'),
    // Password managers (and Chromium's console) expect a user name beside
    // a password; the admin token has none, so it is a fixed, hidden one.
    h('input', { type: 'text', name: 'username', autocomplete: 'username', value: 'admin', hidden: true }),
    labelled('Admin token', token),
    problem,
    submit,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    submit.disabled = true;
    fill(problem);
    try {
      await api.checkToken(token.value.trim());
      session.signIn(token.value.trim());
      onSignedIn();
    } catch (error) {
      const refused = error instanceof ApiError && error.status === 401;
      fill(problem, refused ? h('p', { class: 'state error', role: 'alert' }, `The gateway refused this token: ${error.message}`) : failure(error, 'Could not sign in'));
      submit.disabled = false;
      token.select();
    }
  });
  fill(root, h('div', { class: 'login-wrap' }, form));
  token.focus();
}
