// A page's settings (range, filters, grouping) live in the query string, so
// a view can be bookmarked, shared and reloaded as it was. Changing them
// replaces the history entry: Back leaves the page rather than undoing each
// filter.

export function queryParam(name: string): string | null {
  return new URLSearchParams(location.search).get(name);
}

/** Sets the query string to `values`, leaving out empty ones. */
export function setQuery(values: Record<string, string | null | undefined>): void {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(values)) if (value) params.set(name, value);
  const search = params.toString();
  history.replaceState(history.state, '', `${location.pathname}${search ? `?${search}` : ''}`);
}
