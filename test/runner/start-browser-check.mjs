// The launcher test of `npm start -- --browser`, run by `npm test`: exactly what a person types, then what
// they see and what Ctrl-C leaves behind.
//  1. `npm start -- --browser --port <free port>` (in its own process group, as a terminal runs it) installs
//     what it needs, serves VS Code and prints the URL;
//  2. that URL in headless Chromium shows the Agent Pool view (its activity bar entry opens the "Agents" view,
//     and the extension's status bar item is there, so the extension really activated);
//  3. SIGINT to the whole process group (what Ctrl-C does) ends npm, and no process that npm start had
//     started is left, the server's port is closed.
// The server runs with scratch user data, extensions and registry directories, so that neither a person's
// own `npm start` state nor their agent registry is touched. Exits 0 on success, 1 with the reason.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { chromiumBinary, hostCacheDir } from './host-paths.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const STARTUP_TIMEOUT_MS = 5 * 60_000;
const VIEW_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 20_000;

const log = (line) => console.log(`[start-check] ${line}`);

async function main() {
  const scratch = mkdtempSync(join(tmpdir(), 'agent-pool-start-'));
  const workspace = join(scratch, 'workspace');
  mkdirSync(workspace);
  const port = await freePort();
  const npmStart = spawn('npm', ['start', '--', '--browser', '--port', String(port), workspace], {
    cwd: root,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      // The host cache stays where it is (resolved now, before XDG_CACHE_HOME moves); all other state is scratch.
      AGENT_POOL_HOST_CACHE: hostCacheDir(),
      AGENT_POOL_START_DIR: join(scratch, 'start'),
      XDG_STATE_HOME: join(scratch, 'state'),
      XDG_CONFIG_HOME: join(scratch, 'config'),
      XDG_DATA_HOME: join(scratch, 'data'),
    },
  });
  const exited = new Promise((resolve) => npmStart.on('exit', (code, signal) => resolve({ code, signal })));
  let browser;
  try {
    const url = await waitForUrl(npmStart, exited);
    log(`npm start serves ${url}`);
    browser = await chromium.launch({ executablePath: chromiumBinary(), args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'], headless: true });
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(url);
    const viewText = await openAgentPoolView(page);
    log(`the Agent Pool view shows: ${JSON.stringify(viewText.slice(0, 160))}`);
    const screenshots = join(root, 'test-results', 'screenshots');
    mkdirSync(screenshots, { recursive: true });
    await page.screenshot({ path: join(screenshots, 'npm-start-browser.png') });
    await browser.close();
    browser = undefined;

    const started = descendants(npmStart.pid);
    log(`Ctrl-C: SIGINT to npm start's process group (${started.length} processes running)`);
    process.kill(-npmStart.pid, 'SIGINT');
    const stopped = await Promise.race([exited, timeout(STOP_TIMEOUT_MS, 'npm start did not exit within 20 s of Ctrl-C')]);
    log(`npm start exited (${stopped.signal ?? `code ${stopped.code}`})`);
    const left = started.filter(alive);
    if (left.length) throw new Error(`Ctrl-C left ${left.length} process(es) behind:\n${left.map((p) => `  ${p.pid} ${p.command}`).join('\n')}`);
    if (await listening(port)) throw new Error(`port ${port} still accepts connections after Ctrl-C`);
    log(`no process left behind, port ${port} closed`);
  } finally {
    await browser?.close().catch(() => {});
    try {
      process.kill(-npmStart.pid, 'SIGKILL');
    } catch {
      // gone, as it should be
    }
    rmSync(scratch, { recursive: true, force: true, maxRetries: 3 });
  }
}

/** Resolves with the URL npm start prints once its server answers; rejects if npm start ends first. */
function waitForUrl(child, exited) {
  return new Promise((resolve, reject) => {
    let output = '';
    const onData = (chunk) => {
      process.stdout.write(chunk);
      output += chunk;
      const match = /(http:\/\/127\.0\.0\.1:\d+\/\?folder=\S+)/.exec(output);
      if (match) resolve(match[1]);
    };
    child.stdout.on('data', onData);
    let lastError = '';
    child.stderr.on('data', (chunk) => {
      process.stderr.write(chunk);
      lastError = String(chunk).trim().split('\n').at(-1) || lastError;
    });
    void exited.then(({ code, signal }) =>
      reject(new Error(`npm start ended (${signal ?? `code ${code}`}) before printing its URL${lastError ? `: ${lastError}` : ''}`)),
    );
    void timeout(STARTUP_TIMEOUT_MS, 'npm start printed no URL within 5 minutes').catch(reject);
  });
}

/** Clicks the Agent Pool entry of the activity bar; returns the text of its Agents view once it shows. */
async function openAgentPoolView(page) {
  const entry = page.locator('.activitybar [aria-label^="Agent Pool"]').first();
  await entry.waitFor({ timeout: VIEW_TIMEOUT_MS });
  await entry.click();
  const pane = page.locator('.sidebar .pane').filter({ has: page.locator('.pane-header', { hasText: /^Agents/i }) });
  await pane.first().waitFor({ timeout: VIEW_TIMEOUT_MS });
  // The status bar item exists only once the extension has activated: the view is the extension's, not an empty shell.
  await page.locator('[id*="agentPool.status"]').first().waitFor({ timeout: VIEW_TIMEOUT_MS });
  const body = pane.first().locator('.pane-body');
  await body.waitFor({ timeout: VIEW_TIMEOUT_MS });
  const deadline = Date.now() + VIEW_TIMEOUT_MS;
  let text = '';
  while (!(text = (await body.innerText()).trim()) && Date.now() < deadline) await page.waitForTimeout(200);
  if (!text) throw new Error('the Agents view stayed empty');
  return text;
}

/**
 * Every process npm start has started, at this moment: those below pid (through /proc), and those in their
 * sessions, which takes in any that was reparented on the way (a double fork).
 */
function descendants(pid) {
  const processes = [];
  for (const entry of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    const fields = statFields(Number(entry));
    if (fields) processes.push({ pid: Number(entry), parent: Number(fields[1]), session: Number(fields[3]) });
  }
  const found = new Set([pid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const proc of processes) {
      if (found.has(proc.pid) || !found.has(proc.parent)) continue;
      found.add(proc.pid);
      grew = true;
    }
  }
  const ownSession = Number(statFields(process.pid)?.[3]);
  const sessions = new Set(processes.filter((proc) => found.has(proc.pid)).map((proc) => proc.session));
  for (const proc of processes) if (sessions.has(proc.session) && proc.session !== ownSession) found.add(proc.pid);
  return [...found].map((each) => ({ pid: each, command: commandLine(each) }));
}

/** The fields of /proc/<pid>/stat after the command name: state, ppid, pgrp, session, …; undefined if gone. */
function statFields(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

function commandLine(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim().slice(0, 200);
  } catch {
    return '?';
  }
}

/** Still running: exists, is not a zombie, and is the same program (not a new process that reuses the pid). */
function alive(proc) {
  const fields = statFields(proc.pid);
  return fields !== undefined && fields[0] !== 'Z' && commandLine(proc.pid) === proc.command;
}

function listening(port) {
  return fetch(`http://127.0.0.1:${port}/healthz`).then(
    () => true,
    () => false,
  );
}

function timeout(ms, message) {
  return new Promise((_, reject) => setTimeout(() => reject(new Error(message)), ms).unref());
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

main().then(
  () => process.exit(0),
  (error) => {
    console.error(`[start-check] FAILED: ${error.message}`);
    process.exit(1);
  },
);
