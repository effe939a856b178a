// Runs a refresh every `intervalMs` while the page is open: never two at
// once (a slow gateway does not pile up requests), and not while the tab is
// hidden (nobody is looking; it catches up when shown again).

export function poll(refresh: () => Promise<void>, intervalMs: number): () => void {
  let running = false;
  const tick = async () => {
    if (running || document.hidden) return;
    running = true;
    try {
      await refresh();
    } finally {
      running = false;
    }
  };
  const timer = setInterval(tick, intervalMs);
  const onVisible = () => {
    if (!document.hidden) void tick();
  };
  document.addEventListener('visibilitychange', onVisible);
  return () => {
    clearInterval(timer);
    document.removeEventListener('visibilitychange', onVisible);
  };
}
