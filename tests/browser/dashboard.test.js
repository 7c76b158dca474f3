// Drives the dashboard of a real `oversight demo` in headless Chromium: the
// counters fill, alerts arrive, the chart draws readings, the language
// switches, the client-side routes survive a reload, rules are switched and
// backtested, an alert is explained, acknowledged, silenced and resolved,
// and the inbox and a dead notification are handled. Sign-on starts at the
// login page's button and goes through oauth2-mock-server, an OpenID provider
// from npm (../oidc-provider), on 127.0.0.1. Screenshots are written to
// screenshots/.
//
// OVERSIGHT_BIN names the binary. run.sh sets it and installs Chromium and the
// provider.
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
const PROVIDER_BIN = new URL('../oidc-provider/node_modules/.bin/oauth2-mock-server', import.meta.url).pathname;
// The provider's ID tokens name the subject `johndoe`, which the
// configuration maps to the demo account `staff`.
const PROVIDER_NAME = 'Mock OIDC';

// How long the demo may take to start, and to produce data and alerts. The
// demo's simulated dataloggers send every 10 seconds, so both leave room for
// a loaded 2-core machine.
const START_TIMEOUT_MS = 60_000;
const DATA_TIMEOUT_MS = 120_000;
// How long a new ledger entry may wait for a signed checkpoint: the demo
// signs one every 10 seconds while the ledger grows.
const CHECKPOINT_TIMEOUT_MS = 60_000;

let server;
let provider;
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

// Starts oauth2-mock-server on a free port of 127.0.0.1 and returns its issuer URL.
function startProvider() {
  provider = spawn(PROVIDER_BIN, ['-a', '127.0.0.1', '-p', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`oauth2-mock-server printed no issuer within ${START_TIMEOUT_MS} ms:\n${output}`)), START_TIMEOUT_MS);
    provider.once('error', reject);
    provider.once('exit', (code) => reject(new Error(`oauth2-mock-server exited with status ${code}:\n${output}`)));
    provider.stdout.on('data', (chunk) => {
      output += chunk;
      const match = output.match(/OAuth 2 issuer is (\S+)/);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
  });
}

// Writes the configuration that turns on sign-on with the provider at `issuer`.
function writeSignOnConfig(issuer) {
  const path = join(dataDir, 'oversight.toml');
  writeFileSync(
    path,
    [
      '[auth.oidc]',
      `issuer_url = "${issuer}"`,
      'client_id = "oversight"',
      'client_secret = "browser test secret"',
      `redirect_url = "${baseUrl}/api/v1/auth/oidc/callback"`,
      `provider_name = "${PROVIDER_NAME}"`,
      'username_claim = "sub"',
      '[auth.oidc.usernames]',
      'johndoe = "staff"',
      '',
    ].join('\n'),
  );
  return path;
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
  const config = writeSignOnConfig(await startProvider());
  const log = openSync(logPath, 'a');
  server = spawn(
    BINARY,
    [
      '--config', config,
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
  provider?.kill('SIGKILL');
  if (dataDir) {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

// Returns the password the demo printed for `username`.
function demoPassword(username) {
  const match = readFileSync(logPath, 'utf8').match(new RegExp(`login: ${username} password: (\\S+)`));
  assert.ok(match, `the demo printed no login for ${username}:\n${serverLog()}`);
  return match[1];
}

test('dashboard shows live data from the demo', { timeout: START_TIMEOUT_MS + DATA_TIMEOUT_MS + CHECKPOINT_TIMEOUT_MS + 60_000 }, async (t) => {
  await t.test('API needs a login', async () => {
    const response = await fetch(`${baseUrl}/api/v1/summary`);
    assert.equal(response.status, 401);
  });

  await t.test('login page signs on with the OpenID provider', async () => {
    await page.goto(`${baseUrl}/login`);
    const button = page.locator('[data-test=sign-on]');
    await button.waitFor();
    assert.equal((await button.innerText()).trim(), `使用 ${PROVIDER_NAME} 登录`);
    await page.screenshot({ path: join(SCREENSHOTS, 'login-sign-on.png') });
    await button.click();
    await page.waitForURL(`${baseUrl}/`);
    const me = await page.evaluate(async () => (await fetch('/api/v1/auth/me')).json());
    assert.equal(me.user?.username, 'staff', JSON.stringify(me));
    await page.locator('[data-test=logout]').click();
    await page.waitForURL(`${baseUrl}/login`);
  });

  await t.test('login page rejects a wrong password, then logs in', async () => {
    await page.goto(`${baseUrl}/login`);
    await page.locator('[data-test=login-username]').fill('admin');
    await page.locator('[data-test=login-password]').fill('wrong password here');
    await page.locator('[data-test=login-submit]').click();
    await page.locator('[data-test=login-error]').waitFor();
    // The browser logs the rejected request as a console error; it is expected here.
    pageErrors.length = 0;
    await page.locator('[data-test=login-password]').fill(demoPassword('admin'));
    await page.locator('[data-test=login-submit]').click();
    await page.waitForURL(`${baseUrl}/`);
  });

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

  await t.test('rules page shows a rule, switches it and runs a backtest', async () => {
    await page.getByRole('link', { name: '预警规则' }).click();
    const rows = page.locator('[data-test=rule-row]');
    await rows.first().waitFor({ timeout: 15_000 });
    const limitRule = rows.filter({ hasText: 'env.limit.upper' });
    await ((await limitRule.count()) > 0 ? limitRule.first() : rows.first()).click();
    const source = page.locator('[data-test=rule-source]');
    await source.waitFor();
    assert.match(await source.innerText(), /condition|kind/, 'the rule text is shown');

    await page.locator('[data-test=rule-disable]').click();
    await page.locator('[data-test=rule-enable]').waitFor({ timeout: 10_000 });
    assert.match(await page.locator('[data-test=rules-notice]').innerText(), /已停用/);
    await page.locator('[data-test=rule-enable]').click();
    await page.locator('[data-test=rule-disable]').waitFor({ timeout: 10_000 });
    assert.match(await page.locator('[data-test=rules-notice]').innerText(), /已启用/);

    await page.waitForFunction(() => document.querySelector('[data-test=backtest-point]')?.value, null, { timeout: 15_000 });
    await page.locator('[data-test=backtest-run]').click();
    const result = page.locator('[data-test=backtest-result]');
    await result.waitFor({ timeout: 30_000 });
    assert.match(await result.innerText(), /重放 [\d,]+ 条数据/);
    await page.screenshot({ path: join(SCREENSHOTS, 'rules-zh-CN.png'), fullPage: true });
  });

  await t.test('alerts page explains an alert and handles it', async () => {
    await page.getByRole('link', { name: '预警处置' }).click();
    const rows = page.locator('[data-test=alerts-page-row]');
    await rows.first().waitFor({ timeout: 15_000 });
    const limitAlerts = rows.filter({ hasText: 'env.limit' });
    await ((await limitAlerts.count()) > 0 ? limitAlerts.first() : rows.first()).click();
    const panel = page.locator('[data-test=alert-explanation]');
    await panel.waitFor();
    await panel.locator('[data-test=alert-rule-source]').waitFor();
    const link = panel.locator('[data-test=alert-chart-link]');
    const href = await link.getAttribute('href');
    assert.match(href, /[?&]mn=/, `chart link ${href}`);
    await page.screenshot({ path: join(SCREENSHOTS, 'alert-explanation-zh-CN.png'), fullPage: true });

    const acknowledge = panel.locator('[data-test=alert-acknowledge]');
    if ((await acknowledge.count()) > 0) {
      await acknowledge.click();
      await page.locator('[data-test=alert-notice]').filter({ hasText: '已确认' }).waitFor({ timeout: 10_000 });
    }
    await panel.locator('[data-test=alert-silence-comment]').fill('检修至中午');
    await panel.locator('[data-test=alert-silence]').click();
    await page.locator('[data-test=alert-notice]').filter({ hasText: '已静默' }).waitFor({ timeout: 10_000 });
    await panel.locator('[data-test=alert-reason]').fill('阀门已修复');
    await panel.locator('[data-test=alert-resolve]').click();
    await page.locator('[data-test=alert-notice]').filter({ hasText: '已解除' }).waitFor({ timeout: 10_000 });

    const mn = new URL(href, baseUrl).searchParams.get('mn');
    await link.click();
    await page.waitForFunction(
      (expected) => {
        const select = document.querySelector('[data-test=chart-panel] select');
        return select?.value === expected;
      },
      mn,
      { timeout: 30_000 },
    );
  });

  await t.test('notifications page shows the inbox and retries a dead letter', async () => {
    await page.getByRole('link', { name: '提醒通知' }).click();
    await page.locator('[data-test=inbox-entry]').first().waitFor({ timeout: 60_000 });
    const dead = page.locator('[data-test=notification-retry]');
    const deadline = Date.now() + 60_000;
    while ((await dead.count()) === 0 && Date.now() < deadline) {
      await page.locator('[data-test=notification-status]').selectOption('dead');
      await page.waitForTimeout(2000);
    }
    assert.ok((await dead.count()) > 0, 'no dead letter appeared within 60 s');
    await page.screenshot({ path: join(SCREENSHOTS, 'notifications-zh-CN.png'), fullPage: true });
    await dead.first().click();
    await page.locator('[data-test=notifications-notice]').filter({ hasText: '已重新排队' }).waitFor({ timeout: 10_000 });

    const unread = await page.locator('[data-test=inbox-read]').count();
    if (unread > 0) {
      await page.locator('[data-test=inbox-read-all]').click();
      await page.locator('[data-test=notifications-notice]').filter({ hasText: '标为已读' }).waitFor({ timeout: 10_000 });
    }
  });

  await t.test('task inbox and detail show a task and act on it', async () => {
    // The task is created with the page's session, as the logged-in administrator.
    const created = await page.evaluate(async () => {
      const csrf = document.cookie
        .split('; ')
        .find((item) => item.startsWith('oversight_csrf='))
        ?.slice('oversight_csrf='.length);
      const response = await fetch('/api/v1/tasks', {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'X-CSRF-Token': decodeURIComponent(csrf ?? ''),
        },
        body: JSON.stringify({
          area: '350203',
          category: 'water',
          title: '浏览器测试任务',
          description: '排放口异味',
        }),
      });
      return { status: response.status, body: await response.json() };
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.task.id;

    await page.locator('[data-test=nav-tasks]').click();
    await page.locator('[data-test=tasks]').waitFor();
    await page.locator('[data-test=task-row]', { hasText: id }).waitFor();
    await page.reload();
    await page.locator('[data-test=task-row]', { hasText: id }).waitFor();
    await page.screenshot({ path: join(SCREENSHOTS, 'tasks-zh-CN.png'), fullPage: true });

    await page.getByRole('link', { name: id }).click();
    await page.locator('[data-test=task-detail]').waitFor();
    assert.equal(await page.locator('[data-test=task-title]').innerText(), '浏览器测试任务');
    assert.equal(await page.locator('[data-test=history-entry]').count(), 1);

    await page.locator('[data-test=reason]').fill('重复工单');
    await page.locator('[data-test=action-cancel]').click();
    await page.locator('[data-test=history-entry]').nth(1).waitFor();
    assert.equal(await page.locator('[data-test=task-state]').innerText(), '已撤销');
    const history = await page.locator('[data-test=history]').innerText();
    assert.match(history, /重复工单/);
    assert.match(history, /admin/, 'the step names the logged-in account');

    // Each step verifies once a signed checkpoint covers its ledger entry;
    // the demo signs one every 10 seconds while the ledger grows.
    const marks = page.locator('[data-test=history-verified]');
    const deadline = Date.now() + CHECKPOINT_TIMEOUT_MS;
    let statuses = [];
    while (Date.now() < deadline) {
      await page.reload();
      await page.locator('[data-test=history-entry]').nth(1).waitFor();
      await page.waitForFunction(
        () => {
        const marks = [...document.querySelectorAll('[data-test=history-verified]')];
        return marks.length > 0 && marks.every((mark) => mark.dataset.status !== 'checking');
      },
      );
      statuses = await marks.evaluateAll((items) => items.map((mark) => mark.dataset.status));
      if (statuses.every((status) => status === 'verified')) {
        break;
      }
      assert.ok(!statuses.includes('failed'), `a step failed verification: ${await marks.allInnerTexts()}`);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    assert.deepEqual(statuses, ['verified', 'verified'], `marks: ${await marks.allInnerTexts()}`);
    assert.match(await marks.first().innerText(), /已在账本检查点 \d+ 中核验/);
    await page.screenshot({ path: join(SCREENSHOTS, 'task-detail-zh-CN.png'), fullPage: true });
  });

  await t.test('task history shows a failed verification clearly', async () => {
    // A proof altered in transit must fail, not pass silently.
    await page.route('**/api/v1/ledger/proof/inclusion*', async (route) => {
      const response = await route.fetch();
      const proof = await response.json();
      if (proof.path.length > 0) {
        proof.path[0] = 'ff'.repeat(32);
      } else {
        proof.leaf_hash = '00'.repeat(32);
      }
      await route.fulfill({ response, json: proof });
    });
    await page.reload();
    await page.locator('[data-test=history-entry]').nth(1).waitFor();
    const marks = page.locator('[data-test=history-verified]');
    await page.waitForFunction(
      () => {
        const marks = [...document.querySelectorAll('[data-test=history-verified]')];
        return marks.length > 0 && marks.every((mark) => mark.dataset.status !== 'checking');
      },
    );
    const statuses = await marks.evaluateAll((items) => items.map((mark) => mark.dataset.status));
    assert.deepEqual(statuses, ['failed', 'failed']);
    assert.match(await marks.first().innerText(), /账本核验失败/);
    await page.screenshot({ path: join(SCREENSHOTS, 'task-detail-failed-zh-CN.png'), fullPage: true });
    await page.unroute('**/api/v1/ledger/proof/inclusion*');
  });

  await t.test('task history rejects a checkpoint with a forged root', async () => {
    // A root the ledger key never signed must not vouch for any step.
    await page.route('**/api/v1/ledger/checkpoint', async (route) => {
      const response = await route.fetch();
      const lines = (await response.text()).split('\n');
      lines[2] = Buffer.alloc(32, 7).toString('base64');
      await route.fulfill({ response, body: lines.join('\n') });
    });
    await page.reload();
    await page.locator('[data-test=history-entry]').nth(1).waitFor();
    const marks = page.locator('[data-test=history-verified]');
    await page.waitForFunction(
      () => {
        const marks = [...document.querySelectorAll('[data-test=history-verified]')];
        return marks.length > 0 && marks.every((mark) => mark.dataset.status !== 'checking');
      },
    );
    const statuses = await marks.evaluateAll((items) => items.map((mark) => mark.dataset.status));
    assert.deepEqual(statuses, ['failed', 'failed']);
    await page.unroute('**/api/v1/ledger/checkpoint');
  });

  await t.test('page logged no errors', () => {
    assert.deepEqual(pageErrors, []);
  });
});
