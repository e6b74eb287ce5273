import { defineConfig } from "@playwright/test";

// Runs against a real stack: LIFEBOAT_CONSOLE_URL is the api's URL (tests/console starts it).
// Debian's chromium, never a browser downloaded by Playwright.
export default defineConfig({
  testDir: "e2e",
  outputDir: "artifacts/results",
  workers: 1,
  retries: 0,
  timeout: 180_000,
  expect: { timeout: 30_000 },
  reporter: [["list"]],
  use: {
    baseURL: process.env.LIFEBOAT_CONSOLE_URL ?? "http://127.0.0.1:8000",
    screenshot: "only-on-failure",
    trace: "off",
    viewport: { width: 1366, height: 800 },
    launchOptions: {
      executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
});
