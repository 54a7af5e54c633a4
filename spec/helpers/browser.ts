/**
 * Headless Chromium for browser specs (the dashboard's pages): the system's /usr/bin/chromium,
 * driven by playwright-core, which downloads no browser of its own. A machine without it fails
 * the spec with a clear message rather than skipping it.
 */
import { existsSync } from "node:fs";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";

/** Where the browser is expected. */
export const CHROMIUM = "/usr/bin/chromium";

/** The launch arguments: no sandbox (root in a container), no GPU, nothing fetched in the background. */
export const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"];

/** Launches headless Chromium; rejects (never skips) when /usr/bin/chromium is missing. Close it with {@link closeBrowser}. */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Browser specs need Chromium at ${CHROMIUM} (on Debian: apt-get install chromium).`);
  }
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

/** A page of the given width (1280 desktop, 375 phone) in its own context; closing the browser closes it. */
export async function openPage(browser: Browser, width = 1280, height = 900): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width, height }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  return { context, page };
}

/** Closes the browser and every context and page it holds (safe to call with undefined). */
export async function closeBrowser(browser: Browser | undefined): Promise<void> {
  await browser?.close();
}
