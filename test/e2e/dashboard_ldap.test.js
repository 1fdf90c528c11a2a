/*
 * The dashboard over an LDAP user store (read-only), in headless Chromium
 * driven by playwright-core. Run by test/integration/test_105_ldap_mgmt.py,
 * which starts the gateway (userstore.type = "ldap") and its directory and
 * passes:
 *
 *   WSG_DASHBOARD_URL   http://127.0.0.1:PORT/dashboard/
 *   WSG_E2E_OUT         folder for the screenshots
 *   WSG_E2E_ADMIN, WSG_E2E_ADMIN_PASSWORD   a member of ldap.admin_group
 *   WSG_E2E_USER, WSG_E2E_USER_PASSWORD     a user in no admin group
 *
 * The steps run in order and share the browser (TAP lines, as
 * dashboard.test.js).
 */
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');

const BASE = process.env.WSG_DASHBOARD_URL;
const OUT = process.env.WSG_E2E_OUT;
const ADMIN = process.env.WSG_E2E_ADMIN;
const ADMIN_PW = process.env.WSG_E2E_ADMIN_PASSWORD;
const USER = process.env.WSG_E2E_USER;
const USER_PW = process.env.WSG_E2E_USER_PASSWORD;

const STEP = { timeout: 90000 };

let context;
let userDataDir;
let page;
const changes = [];  /* requests that would change a user */
const problems = []; /* script errors */

function screenshot(name) {
	return page.screenshot({ path: path.join(OUT, name + '.png'), fullPage: true });
}

async function login(user, password) {
	await page.goto(BASE);
	await page.locator('#login-user').waitFor();
	await page.fill('#login-user', user);
	await page.fill('#login-password', password);
	await page.click('#login-submit');
	await page.locator('#current-user').waitFor();
	assert.equal(await page.textContent('#current-user'), user);
}

async function shownUsers() {
	await page.locator('#users-body[aria-busy="false"]').waitFor();
	return page.locator('#users-body tr[data-user]').evaluateAll(
		(rows) => rows.map((r) => r.getAttribute('data-user')));
}

before(async () => {
	fs.mkdirSync(OUT, { recursive: true });
	userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsg-chromium-'));
	context = await chromium.launchPersistentContext(userDataDir, {
		executablePath: '/usr/bin/chromium',
		headless: true,
		args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
			'--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run'],
		viewport: { width: 1280, height: 800 },
	});
	context.setDefaultTimeout(20000);
	context.on('request', (r) => {
		if (r.method() !== 'GET')
			changes.push(r.method() + ' ' + r.url());
	});
	page = await context.newPage();
	page.on('pageerror', (e) => problems.push('page error: ' + e.message));
});

after(async () => {
	if (context)
		await context.close();
	fs.rmSync(userDataDir, { recursive: true, force: true });
});

test('an admin of the directory logs in and sees the users read-only', STEP, async () => {
	await login(ADMIN, ADMIN_PW);
	await page.locator('#users-table').waitFor();
	const names = await shownUsers();
	assert.ok(names.includes('ada') && names.includes('alice'), names.join(','));
	await page.locator('#store-note').waitFor();
	assert.match(await page.textContent('#store-note'), /LDAP directory/);
	assert.equal(await page.locator('#add-user').count(), 0);
	assert.equal(await page.locator('#users-body button').count(), 0);
	assert.equal(await page.locator('#users-body a').count(), 0);
	const ada = page.locator('#users-body tr[data-user="ada"]');
	assert.match(await ada.textContent(), /Admin/);
	assert.match(await ada.textContent(), /wssgate-admins/);
	assert.match(await ada.textContent(), /directory/);
	assert.equal(await page.locator('#nav-password').count(), 0);
	await screenshot('ldap-01-users');
});

test('search and paging work over the directory', STEP, async () => {
	await page.fill('#user-search', 'pg-12*');
	await page.press('#user-search', 'Enter');
	const names = await shownUsers();
	assert.deepEqual(names, Array.from({ length: 10 }, (_, i) => 'pg-12' + i));
	await page.fill('#user-search', '');
	await page.press('#user-search', 'Enter');
	await shownUsers();
	assert.match(await page.textContent('#users-summary'), /of 13\d/);
	await page.click('#users-next');
	await shownUsers();
	assert.match(await page.textContent('#users-summary'), /page 2 of/);
});

test('the pages that change users lead back to the list', STEP, async () => {
	for (const hash of ['#/users/add', '#/password', '#/users/certificates/alice']) {
		await page.evaluate((h) => { location.hash = h; }, hash);
		await page.waitForFunction(() => location.hash === '#/users');
		await page.locator('#users-table').waitFor();
		assert.equal(await page.locator('#add-user-form, #password-form, #add-cert-form').count(), 0);
	}
	await page.click('#logout');
	await page.locator('#login-form').waitFor();
});

test('a user of the directory sees monitoring only, without a password page', STEP, async () => {
	await login(USER, USER_PW);
	await page.locator('#nav-artifacts').waitFor();
	assert.equal(await page.locator('#nav-users').count(), 0);
	assert.equal(await page.locator('#nav-password').count(), 0);
	await screenshot('ldap-02-user');
	await page.click('#logout');
	await page.locator('#login-form').waitFor();
});

test('nothing was changed and no script failed', STEP, async () => {
	assert.deepEqual(changes, []);
	assert.deepEqual(problems, []);
});
