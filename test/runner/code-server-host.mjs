// Runs the extension's integration tests in a real VS Code extension host without downloading VS Code:
// the VS Code server bundled in the code-server npm package (on Node 24), and its web workbench in
// Debian's headless Chromium driven by playwright-core. See ../shared/notes/real-vscode-host.md.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { chromiumBinary, codeServerEntry, node24Binary } from './host-paths.mjs';

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/**
 * `workspaceTrust`: 'disabled' (default: the folder is trusted, no trust UI) or 'restricted' (trust enabled
 * and the folder untrusted, so the extension runs in Restricted Mode).
 * @param {{extensionDir: string, testsEntry: string, workspaceDir: string, logFile: string,
 *   screenshotDir: string, timeoutMs: number, workspaceTrust?: 'disabled' | 'restricted', env?: Record<string,string>,
 *   machineSettings?: Record<string, unknown>, log: (line: string) => void}} options
 * `machineSettings`: the server's Machine settings (what a remote window calls Remote settings, where
 * machine-scoped settings such as agentPool.registryDirectory apply; User settings would be ignored here).
 * @returns {Promise<number>} the exit code the test run reported
 */
export async function runInCodeServer(options) {
  const scratch = mkdtempSync(join(tmpdir(), 'agent-pool-host-'));
  const port = await freePort();
  const screenshots = await startScreenshotService(options.screenshotDir, options.log);
  const server = startServer(port, scratch, options.workspaceTrust ?? 'disabled', options.machineSettings, {
    ...options.env,
    AGENT_POOL_SCREENSHOT_URL: screenshots.url,
    AGENT_POOL_WEBVIEW_TEXT_URL: screenshots.webviewTextUrl,
    AGENT_POOL_PAGE_TEXT_URL: screenshots.pageTextUrl,
    AGENT_POOL_CLICK_URL: screenshots.clickUrl,
    AGENT_POOL_TEST_LOG: options.logFile,
  });
  let browser;
  try {
    await waitForHealth(port, server, 60_000);
    browser = await chromium.launch({ executablePath: chromiumBinary(), args: CHROMIUM_ARGS, headless: true });
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    screenshots.attach(page);
    if (process.env.AGENT_POOL_HOST_DEBUG) logBrowserEvents(page, options.log);
    const exitCode = new Promise((resolve) => {
      void page.exposeFunction('codeAutomationExit', (code) => resolve(Number(code)));
    });
    await page.exposeFunction('codeAutomationLog', () => {});
    const remote = (path) => `vscode-remote://127.0.0.1:${port}${path}`;
    const payload = [
      ['extensionDevelopmentPath', remote(options.extensionDir)],
      ['extensionTestsPath', remote(options.testsEntry)],
      ['skipWelcome', 'true'],
      ['skipReleaseNotes', 'true'],
      ['disableExtensions', 'true'],
    ];
    const url = `http://127.0.0.1:${port}/?folder=${encodeURIComponent(options.workspaceDir)}&payload=${encodeURIComponent(JSON.stringify(payload))}`;
    await page.goto(url);
    const timedOut = new Promise((resolve) =>
      setTimeout(() => {
        options.log(`[host] the test run did not finish within ${options.timeoutMs / 1000} s; failing it`);
        resolve(124);
      }, options.timeoutMs).unref(),
    );
    const serverDied = new Promise((resolve) =>
      server.once('exit', (code) => {
        options.log(`[host] the VS Code server exited early (code ${code})`);
        resolve(1);
      }),
    );
    return await Promise.race([exitCode, timedOut, serverDied]);
  } finally {
    await browser?.close().catch(() => {});
    killGroup(server);
    await screenshots.close();
    rmSync(scratch, { recursive: true, force: true, maxRetries: 3 });
  }
}

/** AGENT_POOL_HOST_DEBUG=1: the workbench's console, page errors and failed requests, for diagnosing the host. */
function logBrowserEvents(page, log) {
  page.on('console', (message) => log(`[browser ${message.type()}] ${message.text()}`));
  page.on('pageerror', (error) => log(`[browser pageerror] ${error.message}`));
  page.on('requestfailed', (request) => log(`[browser requestfailed] ${request.url()} ${request.failure()?.errorText ?? ''}`));
  page.on('response', (response) => response.status() >= 400 && log(`[browser ${response.status()}] ${response.url()}`));
  page.on('framenavigated', (frame) => frame !== page.mainFrame() && log(`[browser frame] ${frame.url()}`));
}

function startServer(port, scratch, workspaceTrust, machineSettings, env) {
  const home = join(scratch, 'home');
  for (const dir of ['home', 'data', 'extensions', 'state', 'config', 'cache']) mkdirSync(join(scratch, dir), { recursive: true });
  if (machineSettings) {
    mkdirSync(join(scratch, 'data', 'Machine'), { recursive: true });
    writeFileSync(join(scratch, 'data', 'Machine', 'settings.json'), JSON.stringify(machineSettings, null, 2));
  }
  if (workspaceTrust === 'restricted') {
    // A fresh profile trusts nothing, so the folder opens untrusted. Without a startup prompt no modal dialog
    // waits for a click; the workbench opens in Restricted Mode and says so in its banner.
    mkdirSync(join(scratch, 'data', 'User'), { recursive: true });
    const settings = { 'security.workspace.trust.enabled': true, 'security.workspace.trust.startupPrompt': 'never', 'security.workspace.trust.banner': 'always' };
    writeFileSync(join(scratch, 'data', 'User', 'settings.json'), JSON.stringify(settings, null, 2));
  }
  const args = [
    codeServerEntry(),
    '--auth', 'none',
    '--bind-addr', `127.0.0.1:${port}`,
    '--user-data-dir', join(scratch, 'data'),
    '--extensions-dir', join(scratch, 'extensions'),
    '--disable-telemetry',
    '--disable-update-check',
    ...(workspaceTrust === 'restricted' ? [] : ['--disable-workspace-trust']),
    '--ignore-last-opened',
    '--vscode-option', 'enable-smoke-test-driver',
  ];
  // A private HOME and XDG dirs keep one run's state (and the agent registry) from leaking into the next.
  const child = spawn(node24Binary(), args, {
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: {
      ...process.env,
      HOME: home,
      XDG_STATE_HOME: join(scratch, 'state'),
      XDG_CONFIG_HOME: join(scratch, 'config'),
      XDG_CACHE_HOME: join(scratch, 'cache'),
      ...env,
    },
  });
  child.stderr.setEncoding('utf8');
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr = (stderr + chunk).slice(-4000)));
  child.on('exit', (code) => code && console.error(`[host] server stderr tail:\n${stderr}`));
  return child;
}

async function waitForHealth(port, server, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`the VS Code server exited with code ${server.exitCode} before it was healthy`);
    try {
      const response = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`the VS Code server on port ${port} was not healthy within ${timeoutMs / 1000} s`);
}

function killGroup(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGTERM');
    setTimeout(() => {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }, 3000).unref();
  } catch {
    // already gone
  }
}

/**
 * Tests in the extension host ask for screenshots with GET <url>?name=<name>[&hover=<css selector>]; the launcher takes them
 * with playwright, so a person can look at exactly what a user would see at that moment.
 */
async function startScreenshotService(directory, log) {
  mkdirSync(directory, { recursive: true });
  let page;
  const server = createServer(async (request, response) => {
    const requestUrl = new URL(request.url ?? '/', 'http://x');
    if (requestUrl.pathname === '/webview-text') return answerWebviewText(page, requestUrl.searchParams, response);
    if (requestUrl.pathname === '/page-text') return answerPageText(page, requestUrl.searchParams, response);
    if (requestUrl.pathname === '/click') return clickButton(page, requestUrl.searchParams, response);
    const params = requestUrl.searchParams;
    const name = params.get('name') ?? 'workbench';
    const hover = params.get('hover');
    if (!page || !/^[\w.-]+$/.test(name)) {
      response.writeHead(400).end('no page or bad name');
      return;
    }
    const path = join(directory, `${name}.png`);
    try {
      if (hover) {
        // e.g. the status bar item, to show its tooltip the way a person would see it
        await page.hover(hover, { timeout: 5000 });
        await page.waitForTimeout(1500);
      }
      await page.screenshot({ path });
      if (hover) await page.mouse.move(0, 0);
      log(`[host] screenshot ${path}`);
      response.writeHead(200).end(path);
    } catch (error) {
      response.writeHead(500).end(String(error));
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/screenshot`,
    webviewTextUrl: `http://127.0.0.1:${server.address().port}/webview-text`,
    pageTextUrl: `http://127.0.0.1:${server.address().port}/page-text`,
    clickUrl: `http://127.0.0.1:${server.address().port}/click`,
    attach: (p) => (page = p),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/**
 * GET <url>?contains=<text>: the visible text of the webview document that shows <text>, once one does (200),
 * or, after 15 s, what the webviews show instead (404). Lets a test check what a webview really rendered, which
 * the extension host cannot see. Webview documents are written into pre/fake.html frames.
 */
async function answerWebviewText(page, params, response) {
  const wanted = params.get('contains') ?? '';
  const deadline = Date.now() + 15_000;
  let seen = [];
  while (page) {
    seen = [];
    for (const frame of page.frames().filter((f) => f.url().includes('/webview/browser/pre/fake.html'))) {
      const text = await frame.evaluate(() => document.body?.innerText ?? '').catch(() => '');
      if (text) seen.push(text);
    }
    const match = seen.find((text) => text.includes(wanted));
    if (match) return response.writeHead(200, { 'content-type': 'text/plain' }).end(match);
    if (Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  response.writeHead(404, { 'content-type': 'text/plain' }).end(`no webview shows "${wanted}"; webviews show: ${JSON.stringify(seen)}`);
}

/**
 * GET <url>?selector=<css>&contains=<text>: the visible text of the workbench element matching <selector> once it
 * shows <text> (200), or after 15 s what it shows instead (404): what a person reads in the Chat view, for instance.
 * With &lacks=1 instead: once it no longer shows <text> (a notification that closed).
 */
async function answerPageText(page, params, response) {
  const selector = params.get('selector') ?? 'body';
  const wanted = params.get('contains') ?? '';
  const lacks = params.get('lacks') === '1';
  const deadline = Date.now() + 15_000;
  let text = '';
  while (page) {
    text = await page.evaluate((css) => [...document.querySelectorAll(css)].map((element) => element.innerText).join('\n'), selector).catch(() => '');
    if (text.includes(wanted) !== lacks) return response.writeHead(200, { 'content-type': 'text/plain' }).end(text);
    if (Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  response.writeHead(404, { 'content-type': 'text/plain' }).end(`"${selector}" ${lacks ? 'still shows' : 'does not show'} "${wanted}"; it shows: ${JSON.stringify(text)}`);
}

/**
 * GET <url>?selector=<css>&name=<text>: clicks, as a person does, the button named <text> inside the workbench
 * element <selector> (the last one, when several match: the newest answer's), once it shows (200), or says after
 * 15 s what it could not find (404).
 */
async function clickButton(page, params, response) {
  const selector = params.get('selector') ?? 'body';
  const name = params.get('name') ?? '';
  try {
    await page.locator(selector).last().getByRole('button', { name, exact: true }).last().click({ timeout: 15_000 });
    response.writeHead(200, { 'content-type': 'text/plain' }).end('clicked');
  } catch (error) {
    response.writeHead(404, { 'content-type': 'text/plain' }).end(`no button "${name}" in "${selector}": ${String(error).split('\n')[0]}`);
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}
