/**
 * The dashboard in a real browser: Debian's chromium driven by playwright-core, on the sim
 * backend. Log in, watch a node fail (sim fail-node) turn red and its instances move without a
 * reload, drain a node as operator, be refused as viewer, and look at it on a phone's screen.
 * Screenshots go to the test's temporary folder; their paths are printed.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { drover, sandbox, WatchProcess } from '../support/watch.ts';

const CHROMIUM = '/usr/bin/chromium';
// Without these the sandboxed machine's closed network makes chromium hang on connection attempts.
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const missing = fs.existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is absent and scripts/ci-setup-chromium could not install it`;
if (missing) console.log(`\n  !!! SKIPPED: the dashboard's browser test did not run: ${missing} !!!\n`);
const run = missing ? test.skip : test;

run('the dashboard live: a failed node turns red and its instances move; operator drains, viewer is refused', async () => {
  const sb = sandbox();
  const token = (name: string, role: string) => drover(sb, ['token', 'create', name, '--role', role]).out.trim();
  const operator = token('alice', 'operator');
  const viewer = token('bob', 'viewer');
  const shots = path.join(sb.dir, 'screenshots');
  fs.mkdirSync(shots);
  const w = new WatchProcess(sb, ['--listen', '127.0.0.1:0']);
  let ctx: BrowserContext | undefined;
  try {
    const base = (await w.waitFor(/API and dashboard on (http:\/\/127\.0\.0\.1:\d+)\//, 30_000))[1]!;
    await w.waitFor(/Run 1 \(start\)/, 30_000);
    ctx = await chromium.launchPersistentContext(path.join(sb.dir, 'chromium-profile'), { executablePath: CHROMIUM, headless: true, args: FLAGS, viewport: { width: 1280, height: 900 }, timeout: 60_000 });
    const page = ctx.pages()[0] ?? await ctx.newPage();
    const shot = async (name: string) => { const p = path.join(shots, `${name}.png`); await page.screenshot({ path: p, fullPage: true }); console.log(`  screenshot: ${p}`); };

    await login(page, base, operator);
    await page.waitForSelector('tr[data-node="node1"][data-health="up"]', { timeout: 30_000 });
    await shot('1-overview');
    await page.evaluate(() => { (window as unknown as { notReloaded: boolean }).notReloaded = true; });

    // the node holding web1 fails: without a reload, its row turns red and web1 moves to another primary
    await page.click('nav a[href="#instances"]');
    // the first run may still be placing web1 when the page first draws: wait for its primary to show
    await page.waitForFunction(() => /^node\d$/.test(document.querySelector('tr[data-instance="web1"] td.primary')?.textContent?.trim() ?? ''), undefined, { timeout: 60_000 });
    const victim = (await page.textContent('tr[data-instance="web1"] td.primary'))!.trim();
    assert.match(victim, /^node\d$/);
    assert.is(drover(sb, ['sim', 'fail-node', victim]).code, 0);
    await page.waitForFunction((n) => !['-', n, ''].includes(document.querySelector('tr[data-instance="web1"] td.primary')?.textContent?.trim() ?? ''), victim, { timeout: 60_000 });
    await shot('2-instances-moved');
    await page.click('nav a[href="#overview"]');
    await page.waitForSelector(`tr[data-node="${victim}"].down`, { timeout: 30_000 });
    const color = await page.$eval(`tr[data-node="${victim}"] td.health`, (td) => getComputedStyle(td).color);
    assert.is(color, 'rgb(198, 40, 40)', 'the failed node is shown red');
    assert.ok(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded), 'the page was never reloaded');
    await shot('3-node-down');

    // drain as operator: the override shows on the node, with who asked
    const other = ['node1', 'node2', 'node3'].find((n) => n !== victim)!;
    await page.click(`tr[data-node="${other}"] button[data-action="drain"]`);
    await page.waitForSelector(`tr[data-node="${other}"] td.flags:has-text("drained by alice")`, { timeout: 30_000 });
    assert.match((await page.textContent('#message'))!, new RegExp(`node ${other} drained by alice`));
    await shot('4-drained-by-operator');
    // the journal (live) and the plan with the override it names
    await page.click('nav a[href="#journal"]');
    await page.waitForSelector(`#journal tr:has-text("DrainNode"):has-text("${other}"):has-text("alice")`, { timeout: 30_000 });
    await shot('4b-journal');
    await page.click('nav a[href="#plan"]');
    await page.waitForSelector(`li.warn:has-text("node ${other} is drained by alice through the API")`, { timeout: 30_000 });
    await shot('4c-plan');
    await page.click('nav a[href="#overview"]');

    // a viewer: the same button is refused by the server, and nothing changes
    await page.click('#logout');
    await login(page, base, viewer);
    const third = ['node1', 'node2', 'node3'].find((n) => n !== victim && n !== other)!;
    await page.waitForSelector(`tr[data-node="${third}"] button[data-action="drain"]`, { timeout: 30_000 });
    await page.click(`tr[data-node="${third}"] button[data-action="drain"]`);
    await page.waitForSelector('#message.error', { timeout: 30_000 });
    assert.match((await page.textContent('#message'))!, /refused \(403\): bob is a viewer/);
    assert.not.match((await page.textContent(`tr[data-node="${third}"] td.flags`))!, /drained/);
    await shot('5-viewer-refused');

    // a phone's screen: the tables scroll inside their boxes, the page itself does not overflow
    await page.setViewportSize({ width: 390, height: 844 });
    await page.click('nav a[href="#instances"]');
    await page.waitForSelector('tr[data-instance="web1"]');
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1), 'no sideways scrolling of the page on a phone');
    await shot('6-phone-instances');
    assert.is(await w.stop(), 0);
  } finally {
    await ctx?.close();
    w.child.kill('SIGKILL');
  }
});

async function login(page: Page, base: string, token: string): Promise<void> {
  await page.goto(`${base}/`);
  await page.waitForSelector('#login:not([hidden])', { timeout: 30_000 });
  await page.fill('#token', token);
  await page.click('#login button[type="submit"]');
  await page.waitForSelector('#nav:not([hidden])', { timeout: 30_000 });
}

test.run();
