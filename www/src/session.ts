// The admin token, kept for this browser tab only: sessionStorage ends with
// the tab, so a token typed on a shared machine does not outlive it, and it
// is never in a URL or a cookie the gateway would receive unasked.

const KEY = 'edgeway.adminToken';

export const session = {
  token(): string | null {
    return sessionStorage.getItem(KEY);
  },
  signIn(token: string): void {
    sessionStorage.setItem(KEY, token);
  },
  signOut(): void {
    sessionStorage.removeItem(KEY);
  },
};
