// Drives the dashboard of a real `oversight demo` in headless Chromium: the
// counters fill, alerts arrive, the chart draws readings, the language
// switches, and the client-side routes survive a reload. Screenshots are
// written to screenshots/.
//
// OVERSIGHT_BIN names the binary; run.sh sets it and installs Chromium.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { chromium } from 'playwright-core';

const BINARY = process.env.OVERSIGHT_BIN;
const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
const SCREENSHOTS = new URL('./screenshots/', import.meta.url).pathname;

// How long the demo may take to start, and to produce data and alerts. The
// demo's simulated dataloggers send every 10 seconds, so both leave room for
// a loaded 2-core machine.
const START_TIMEOUT_MS = 60_000;
const DATA_TIMEOUT_MS = 120_000;

let server;
let dataDir;
let logPath;
let browser;
let page;
let baseUrl;
const pageErrors = [];

// Returns a TCP port that was free on 127.0.0.1 a moment ago.
function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

function serverLog() {
  try {
    return readFileSync(logPath, 'utf8').split('\n').slice(-40).join('\n');
  } catch {
    return '(no server log)';
  }
}

async function waitForHealth(url) {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let lastError = 'no response';
  while (Date.now() < deadline) {
    if (server.exitCode !== null) {
      throw new Error(`oversight exited with status ${server.exitCode} before serving:\n${serverLog()}`);
    }
    try {
      const response = await fetch(`${url}/api/v1/health`);
      if (response.ok) {
        return;
      }
      lastError = `status ${response.status}`;
    } catch (error) {
      lastError = error.message;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`oversight did not respond at ${url}/api/v1/health within ${START_TIMEOUT_MS} ms (${lastError}):\n${serverLog()}`);
}

async function counter(name) {
  const text = await page.locator(`[data-test=counter-${name}]`).innerText();
  const digits = text.split('/')[0].replace(/[^\d]/g, '');
  return digits === '' ? 0 : Number(digits);
}

before(async () => {
  assert.ok(BINARY, 'OVERSIGHT_BIN must name the oversight binary; run tests/browser/run.sh');
  mkdirSync(SCREENSHOTS, { recursive: true });
  dataDir = mkdtempSync(join(tmpdir(), 'oversight-browser-'));
  logPath = join(dataDir, 'oversight.log');
  const [httpPort, hj212Port] = [await freePort(), await freePort()];
  baseUrl = `http://127.0.0.1:${httpPort}`;
  const log = openSync(logPath, 'a');
  // The demo's rules route their alerts to this department, whose inbox the
  // notifications page shows.
  const configPath = join(dataDir, 'oversight.toml');
  writeFileSync(
    configPath,
    '[notify]\ngroup_wait_secs = 0\n\n[[notify.recipients]]\nid = "ecology-environment"\nname = "生态环境局"\nkind = "department"\n',
  );
  server = spawn(
    BINARY,
    [
      '--config', configPath,
      'demo',
      '--duration', '600',
      '--data-dir', join(dataDir, 'data'),
      '--http', `127.0.0.1:${httpPort}`,
      '--hj212', `127.0.0.1:${hj212Port}`,
    ],
    { stdio: ['ignore', log, log] },
  );
  await waitForHealth(baseUrl);

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  page = await browser.newPage({ viewport: { width: 1600, height: 1000 }, locale: 'zh-CN' });
  page.on('pageerror', (error) => pageErrors.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') {
      pageErrors.push(`console error: ${message.text()}`);
    }
  });
});

after(async () => {
  await browser?.close();
  if (server && server.exitCode === null) {
    const exited = new Promise((resolve) => server.once('exit', resolve));
    server.kill('SIGTERM');
    const timer = setTimeout(() => server.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
  if (dataDir) {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('dashboard shows live data from the demo', { timeout: START_TIMEOUT_MS + DATA_TIMEOUT_MS + 60_000 }, async (t) => {
  await page.goto(`${baseUrl}/`);
  assert.equal(await page.title(), 'Oversight · 在线监测监管平台');

  await t.test('counters become non-zero', async () => {
    const deadline = Date.now() + DATA_TIMEOUT_MS;
    let values = {};
    while (Date.now() < deadline) {
      values = {
        points: await counter('points'),
        online: await counter('online'),
        readings: await counter('readings'),
        alerts: await counter('alerts'),
      };
      // Half the points online means the simulated dataloggers are running,
      // so the screenshots show a working dashboard.
      if (Object.values(values).every((value) => value > 0) && values.online * 2 >= values.points) {
        break;
      }
      await page.waitForTimeout(1000);
    }
    assert.ok(values.points > 0, `points counter is ${values.points}`);
    assert.ok(values.online > 0, `points online counter is ${values.online}`);
    assert.ok(values.readings > 0, `readings today counter is ${values.readings}`);
    assert.ok(values.alerts > 0, `open alerts counter is ${values.alerts}; the demo raised no alert within ${DATA_TIMEOUT_MS} ms`);
  });

  await t.test('alert list has an alert', async () => {
    const rows = page.locator('[data-test=alert-row]');
    await rows.first().waitFor({ timeout: 15_000 });
    assert.ok((await rows.count()) >= 1);
  });

  await t.test('chart draws the readings of the clicked alert', async () => {
    const rows = page.locator('[data-test=alert-row]');
    const limitAlerts = rows.filter({ hasNotText: /数据缺失/ });
    const row = (await limitAlerts.count()) > 0 ? limitAlerts.first() : rows.first();
    await row.click();
    const chart = page.locator('[data-test=chart]');
    await chart.locator('canvas').first().waitFor({ timeout: 10_000 });
    await page.waitForFunction(
      () => Number(document.querySelector('[data-test=chart]')?.dataset.samples ?? 0) > 0,
      null,
      { timeout: 30_000 },
    );
    const samples = Number(await chart.getAttribute('data-samples'));
    assert.ok(samples > 0, `chart has ${samples} readings`);
    const size = await chart.locator('canvas').first().boundingBox();
    assert.ok(size, 'chart canvas has no bounding box');
    assert.ok(size.width > 200, `canvas is ${size.width} px wide`);
    assert.ok(size.height > 200, `canvas is ${size.height} px high`);
  });

  await t.test('chart draws a clicked online point', async () => {
    // The point list refreshes statuses every 30 seconds, and the simulated
    // dataloggers start a few seconds after the server. A row whose last data
    // is seconds old is a simulated point. The replayed public samples count
    // as online too, but their data times are years old.
    const onlineRow = page.locator('[data-test=point-row]').filter({ hasText: '秒前' }).first();
    await onlineRow.waitFor({ timeout: 45_000 });
    const mn = (await onlineRow.locator('td.mono').innerText()).trim();
    await onlineRow.click();
    const chart = page.locator('[data-test=chart]');
    await page.waitForFunction(
      (expected) => {
        const select = document.querySelector('[data-test=chart-panel] select');
        const samples = Number(document.querySelector('[data-test=chart]')?.dataset.samples ?? 0);
        return select?.value === expected && samples > 0;
      },
      mn,
      { timeout: 30_000 },
    );
    assert.ok(Number(await chart.getAttribute('data-samples')) > 0, `chart of ${mn} has no readings`);
    await page.screenshot({ path: join(SCREENSHOTS, 'dashboard-zh-CN.png'), fullPage: true });
  });

  await t.test('language switches to English and back', async () => {
    await page.locator('[data-test=language]').click();
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'en');
    await page.getByRole('heading', { name: /Alerts/ }).waitFor();
    assert.match(await page.locator('[data-test=counters]').innerText(), /Monitoring points/);
    await page.screenshot({ path: join(SCREENSHOTS, 'dashboard-en.png'), fullPage: true });

    // The choice survives a reload.
    await page.reload();
    await page.getByRole('heading', { name: /Alerts/ }).waitFor();
    await page.locator('[data-test=language]').click();
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'zh-CN');
  });

  await t.test('quarantine page loads and survives a reload', async () => {
    await page.getByRole('link', { name: '待登记设备' }).click();
    await page.locator('[data-test=quarantine]').waitFor();
    await page.reload();
    await page.locator('[data-test=quarantine]').waitFor();
    assert.equal(new URL(page.url()).pathname, '/quarantine');
    await page.screenshot({ path: join(SCREENSHOTS, 'quarantine-zh-CN.png'), fullPage: true });
  });

  await t.test('notifications page shows the inbox and marks it read', async () => {
    await page.getByRole('link', { name: '预警通知' }).click();
    await page.locator('[data-test=notifications]').waitFor();
    await page.locator('[data-test=notification-row]').first().waitFor({ timeout: DATA_TIMEOUT_MS });
    await page.locator('[data-test=inbox-recipient]').fill('ecology-environment');
    await page.locator('[data-test=inbox-recipient]').press('Enter');
    await page.locator('[data-test=inbox-entry]').first().waitFor({ timeout: DATA_TIMEOUT_MS });
    const subject = await page.locator('[data-test=inbox-entry] strong').first().textContent();
    assert.match(subject, /预警提醒/);
    await page.locator('[data-test=inbox-read-all]').click();
    await page.getByRole('status').filter({ hasText: '标为已读' }).waitFor();
    await page.screenshot({ path: join(SCREENSHOTS, 'notifications-zh-CN.png'), fullPage: true });
  });

  await t.test('page logged no errors', () => {
    assert.deepEqual(pageErrors, []);
  });
});
