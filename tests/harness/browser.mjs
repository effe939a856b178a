// Debian's Chromium through playwright-core, launched the same way by every
// browser test (TOOLCHAIN.md): headless, no sandbox (CI runs as root), and
// nothing that reaches for the network on its own. Playwright gives each
// launch a fresh temporary profile.

import { chromium } from 'playwright-core';

/** A headless Chromium; close it in the test's `after`. */
export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
}
