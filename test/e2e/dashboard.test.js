/*
 * End-to-end tests of the wssgate dashboard in headless Chromium (Debian's
 * `chromium` package) driven by playwright-core. Run by
 * test/integration/test_80_dashboard.py, which starts a gateway with the
 * management listener, creates the users named below and sends some SOAP
 * traffic first; it passes everything through the environment:
 *
 *   WSG_DASHBOARD_URL   http://127.0.0.1:PORT/dashboard/
 *   WSG_E2E_OUT         folder for the screenshots
 *   WSG_E2E_ADMIN, WSG_E2E_ADMIN_PASSWORD   the admin created with the CLI
 *   WSG_E2E_TOKEN_TTL   management.token_ttl in seconds
 *   WSG_E2E_CERT        a PEM certificate for a user's certificates page
 *
 * The steps run in order and share the browser; each prints one TAP line
 * (node --test --test-reporter=tap).
 */
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');

const BASE = process.env.WSG_DASHBOARD_URL;
const ORIGIN = new URL(BASE).origin;
const OUT = process.env.WSG_E2E_OUT;
const ADMIN = process.env.WSG_E2E_ADMIN;
const ADMIN_PW = process.env.WSG_E2E_ADMIN_PASSWORD;
const TOKEN_TTL = Number(process.env.WSG_E2E_TOKEN_TTL);
const CERT = process.env.WSG_E2E_CERT;

const NEW_ADMIN = 'operator';
const NEW_ADMIN_PW = 'Operator-Pw-4410';
const VIEWER = 'viewer';
const VIEWER_PW = 'Viewer-Pw-5127';
const VIEWER_PW2 = 'Viewer-Pw-changed-88';
const XSS_NAME = '<img src=x onerror=alert(1)>';
const XSS_PW = 'Xss-user-Pw-0001';

const STEP = { timeout: 90000 };

let context;
let userDataDir;
const requests = [];  /* every URL the browser asked for */
const problems = [];  /* script errors, CSP reports, alert() calls */
const pages = {};     /* one tab per user: sessionStorage is per tab */

function screenshot(page, name) {
	return page.screenshot({ path: path.join(OUT, name + '.png'), fullPage: true });
}

async function newPage() {
	const page = await context.newPage();
	page.on('pageerror', (e) => problems.push('page error: ' + e.message));
	page.on('console', (m) => {
		if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text()))
			problems.push('console: ' + m.text());
	});
	page.on('dialog', async (d) => {
		problems.push('JavaScript dialog opened: ' + d.type() + ' ' + d.message());
		await d.dismiss();
	});
	return page;
}

async function login(page, user, password) {
	if (!page.url().startsWith(BASE))
		await page.goto(BASE);
	await page.locator('#login-user').waitFor();
	await page.fill('#login-user', user);
	await page.fill('#login-password', password);
	await page.click('#login-submit');
	await page.locator('#current-user').waitFor();
	assert.equal(await page.textContent('#current-user'), user);
}

async function go(page, hash) {
	await page.evaluate((h) => { location.hash = h; }, hash);
}

async function settled(page, tbody) {
	await page.locator(tbody + '[aria-busy="false"]').waitFor();
}

function userRow(page, name) {
	return page.locator('#users-body tr[data-user=' + JSON.stringify(name) + ']');
}

async function shownUsers(page) {
	await settled(page, '#users-body');
	return page.locator('#users-body tr[data-user]').evaluateAll(
		(rows) => rows.map((r) => r.getAttribute('data-user')));
}

async function searchUsers(page, text) {
	await page.fill('#user-search', text);
	/* The submit handler marks the table busy before press() returns. */
	await page.press('#user-search', 'Enter');
	return shownUsers(page);
}

async function message(page) {
	const box = page.locator('#message.msg-ok, #message.msg-err');
	await box.waitFor();
	return { kind: (await box.getAttribute('class')).includes('msg-ok') ? 'ok' : 'err', text: await box.textContent() };
}

async function addUser(page, name, password, repeat, isAdmin, roles) {
	if (page.url().endsWith('#/users/add'))
		await go(page, '#/users');
	await go(page, '#/users/add');
	await page.locator('#add-user-form').waitFor();
	await page.locator('#add-roles input, #add-roles .hint:not(:has-text("Loading"))').first().waitFor();
	await page.fill('#add-name', name);
	await page.fill('#add-password', password);
	await page.fill('#add-repeat', repeat);
	if (isAdmin)
		await page.check('#add-admin');
	for (const r of roles || [])
		await page.check('#add-roles input[value=' + JSON.stringify(r) + ']');
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
	context.on('request', (r) => requests.push(r.url()));
});

after(async () => {
	if (context)
		await context.close();
	fs.rmSync(userDataDir, { recursive: true, force: true });
});

test('the login page loads with a strict Content-Security-Policy', STEP, async () => {
	const page = pages.admin = await newPage();
	const resp = await page.goto(BASE);
	assert.equal(resp.status(), 200);
	const h = resp.headers();
	assert.match(h['content-security-policy'], /default-src 'self'/);
	assert.match(h['content-security-policy'], /frame-ancestors 'none'/);
	assert.doesNotMatch(h['content-security-policy'], /unsafe-inline|unsafe-eval/);
	assert.equal(h['x-content-type-options'], 'nosniff');
	await page.locator('#login-form').waitFor();
	assert.equal(await page.evaluate(() => document.activeElement.id), 'login-user');
	await screenshot(page, '01-login');
});

test('a wrong password is refused with a message', STEP, async () => {
	const page = pages.admin;
	await page.fill('#login-user', ADMIN);
	await page.fill('#login-password', 'not-the-password');
	await page.click('#login-submit');
	const msg = page.locator('#login-message.msg-err');
	await msg.waitFor();
	assert.match(await msg.textContent(), /Wrong user name or password/);
	assert.equal(await page.locator('#current-user').count(), 0);
	await screenshot(page, '02-login-failed');
});

test('the admin logs in with the keyboard; the token stays in sessionStorage, out of URLs', STEP, async () => {
	const page = pages.admin;
	await page.fill('#login-user', '');
	await page.focus('#login-user');
	await page.keyboard.type(ADMIN);
	await page.keyboard.press('Tab');
	await page.keyboard.type(ADMIN_PW);
	await page.keyboard.press('Enter');
	await page.locator('#current-user').waitFor();
	assert.equal(await page.textContent('#current-user'), ADMIN);
	const token = await page.evaluate(() => sessionStorage.getItem('wssgate.token'));
	assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
	assert.equal(await page.evaluate(() => localStorage.length), 0);
	assert.deepEqual(await context.cookies(), []);
	assert.ok(!page.url().includes(token));
	assert.ok(requests.every((u) => !u.includes(token)), 'a URL carried the token');
	assert.match(page.url(), /#\/users$/);
});

test('Users lists the users with search and paging', STEP, async () => {
	const page = pages.admin;
	let names = await shownUsers(page);
	assert.equal(names.length, 10);
	assert.deepEqual(names, [...names].sort((a, b) => a.localeCompare(b)));
	assert.match(await page.textContent('#users-summary'), /^Showing 1–10 of \d+ · page 1 of 2$/);
	assert.ok(await page.isDisabled('#users-prev'));
	await screenshot(page, '03-users');
	await page.click('#users-next');
	await page.waitForFunction(() => /page 2 of 2/.test(document.querySelector('#users-summary').textContent));
	names = await shownUsers(page);
	assert.ok(names.length >= 1 && names.length <= 10);
	assert.ok(await page.isDisabled('#users-next'));

	/* searchKey: a case-insensitive part of the name */
	assert.deepEqual(await searchUsers(page, 'CLIENT-1'), ['client-10', 'client-11', 'client-12']);
	/* pattern: a glob with * and ? */
	assert.deepEqual(await searchUsers(page, 'client-0?'), ['client-01', 'client-02', 'client-03', 'client-04',
		'client-05', 'client-06', 'client-07', 'client-08', 'client-09']);
	assert.deepEqual(await searchUsers(page, 'nobody-has-this-name'), []);
	assert.match(await page.textContent('#users-body'), /No user matches this search/);
	await searchUsers(page, '');
});

test('Add User checks the repeated password in the browser', STEP, async () => {
	const page = pages.admin;
	let posted = 0;
	const count = (r) => { if (r.method() === 'POST' && r.url().endsWith('/management/users')) posted++; };
	page.on('request', count);
	await addUser(page, 'typo-user', 'Typo-user-Pw-01', 'Typo-user-Pw-02', false);
	await page.click('#add-submit');
	assert.equal(await page.textContent('#add-repeat-error'), 'Repeat password must match the password.');
	assert.equal(await page.getAttribute('#add-repeat', 'aria-invalid'), 'true');
	assert.equal(await page.evaluate(() => document.activeElement.id), 'add-repeat');
	await page.fill('#add-repeat', 'Typo-user-Pw-0');
	assert.equal(await page.textContent('#add-repeat-error'), '', 'the error stayed while typing');
	assert.equal(await page.getAttribute('#add-repeat', 'aria-invalid'), null);
	await page.fill('#add-name', '');
	await page.click('#add-submit');
	assert.equal(await page.textContent('#add-name-error'), 'User name is missing.');
	await screenshot(page, '04-add-user-invalid');
	page.off('request', count);
	assert.equal(posted, 0, 'the form was sent although it was invalid');
});

test('the admin adds a user with Is Admin checked and one without; both are listed', STEP, async () => {
	const page = pages.admin;
	await addUser(page, NEW_ADMIN, NEW_ADMIN_PW, NEW_ADMIN_PW, true, ['echo-users']);
	await screenshot(page, '05-add-user');
	await page.click('#add-submit');
	await page.waitForURL(/#\/users$/);
	let m = await message(page);
	assert.deepEqual(m, { kind: 'ok', text: 'User “' + NEW_ADMIN + '” was added as an admin.' });

	await addUser(page, VIEWER, VIEWER_PW, VIEWER_PW, false, []);
	await page.press('#add-repeat', 'Enter');
	await page.waitForURL(/#\/users$/);
	m = await message(page);
	assert.deepEqual(m, { kind: 'ok', text: 'User “' + VIEWER + '” was added.' });

	assert.deepEqual(await searchUsers(page, 'OPER'), [NEW_ADMIN]);
	const admin = userRow(page, NEW_ADMIN);
	assert.match(await admin.locator('td').nth(1).textContent(), /Admin/);
	assert.match(await admin.locator('td').nth(2).textContent(), /echo-users/);
	assert.equal(await admin.locator('td').nth(3).textContent(), ADMIN);
	assert.deepEqual(await searchUsers(page, VIEWER), [VIEWER]);
	assert.match(await userRow(page, VIEWER).locator('td').nth(1).textContent(), /No/);
	await searchUsers(page, '');
	await page.click('#users-next');
	await page.waitForFunction(() => /page 2 of 2/.test(document.querySelector('#users-summary').textContent));
	await settled(page, '#users-body');
	await page.locator('#user-search').blur();
	await screenshot(page, '06-users-after-add');
});

test('the server\'s Error text is shown when it refuses to add a user', STEP, async () => {
	const page = pages.admin;
	await addUser(page, VIEWER, VIEWER_PW, VIEWER_PW, false, []);
	await page.click('#add-submit');
	const m = await message(page);
	assert.equal(m.kind, 'err');
	assert.match(m.text, /already exists/);
	assert.match(page.url(), /#\/users\/add$/);
});

test('a user named like HTML is shown as text', STEP, async () => {
	const page = pages.admin;
	await addUser(page, XSS_NAME, XSS_PW, XSS_PW, false, []);
	await page.click('#add-submit');
	await page.waitForURL(/#\/users$/);
	assert.equal((await message(page)).text, 'User “' + XSS_NAME + '” was added.');
	assert.deepEqual(await searchUsers(page, 'onerror'), [XSS_NAME]);
	const cell = userRow(page, XSS_NAME).locator('td.cell-user');
	assert.equal(await cell.textContent(), XSS_NAME);
	assert.equal(await page.locator('#users-table img').count(), 0);
	assert.equal(await page.locator('#message img').count(), 0);
	await screenshot(page, '07-users-html-name');
	await searchUsers(page, '');
});

test('the admin adds and removes a certificate on a user\'s certificates page', STEP, async () => {
	const page = pages.admin;
	const pem = fs.readFileSync(CERT, 'utf8');
	const fp = new crypto.X509Certificate(pem).fingerprint256.replace(/:/g, '').toLowerCase();
	await go(page, '#/users');
	assert.deepEqual(await searchUsers(page, VIEWER), [VIEWER]);
	await userRow(page, VIEWER).locator('a', { hasText: 'Certificates' }).click();
	await page.waitForURL(/#\/users\/certificates\/viewer$/);
	await page.waitForFunction(() => /No certificates/.test(document.querySelector('#certs-body').textContent));
	await page.fill('#cert-pem', pem);
	await page.click('#cert-submit');
	assert.deepEqual(await message(page), { kind: 'ok', text: 'Certificate ' + fp + ' was added.' });
	const row = page.locator('#certs-body tr[data-fingerprint="' + fp + '"]');
	await row.waitFor();
	assert.match(await row.textContent(), /CN=viewer-cert,O=Example/);
	await screenshot(page, '07b-user-certificates');
	/* The server's refusals are shown: the same certificate again, and a key. */
	await page.fill('#cert-pem', pem);
	await page.click('#cert-submit');
	await page.waitForFunction(() => /already mapped/.test(document.querySelector('#message').textContent));
	assert.equal((await message(page)).kind, 'err');
	await page.fill('#cert-pem', '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n');
	await page.click('#cert-submit');
	await page.waitForFunction(() => /private key/.test(document.querySelector('#message').textContent));
	await row.locator('button').click();
	await page.click('#confirm-ok');
	await page.waitForFunction(() => /No certificates/.test(document.querySelector('#certs-body').textContent));
	assert.deepEqual(await message(page), { kind: 'ok', text: 'The certificate was removed.' });
	await go(page, '#/users');
	await searchUsers(page, '');
});

test('the new admin logs in and cannot delete the first admin', STEP, async () => {
	const page = pages.newAdmin = await newPage();
	await login(page, NEW_ADMIN, NEW_ADMIN_PW);
	assert.deepEqual(await searchUsers(page, ADMIN), [ADMIN]);
	const del = userRow(page, ADMIN).locator('button');
	assert.ok(await del.isDisabled());
	assert.match(await del.getAttribute('title'), /command line/);
	assert.deepEqual(await searchUsers(page, NEW_ADMIN), [NEW_ADMIN]);
	assert.ok(await userRow(page, NEW_ADMIN).locator('button').isDisabled(), 'may delete itself');
	assert.deepEqual(await searchUsers(page, VIEWER), [VIEWER]);
	assert.ok(await userRow(page, VIEWER).locator('button').isEnabled());
	await searchUsers(page, '');
	await screenshot(page, '08-users-as-new-admin');
});

test('the server\'s Error text is shown when it refuses a delete', STEP, async () => {
	const page = pages.newAdmin;
	assert.deepEqual(await searchUsers(page, ADMIN), [ADMIN]);
	/* As if the page were stale: force the button and let the server decide. */
	await userRow(page, ADMIN).locator('button').evaluate((b) => { b.disabled = false; });
	await userRow(page, ADMIN).locator('button').click();
	await page.click('#confirm-ok');
	const m = await message(page);
	assert.equal(m.kind, 'err');
	assert.match(m.text, /command line/);
	await screenshot(page, '09-delete-refused');
	assert.deepEqual(await searchUsers(page, ADMIN), [ADMIN]);
});

test('the creator deletes the new admin after confirming', STEP, async () => {
	const page = pages.admin;
	await go(page, '#/logs');
	await go(page, '#/users');
	assert.deepEqual(await searchUsers(page, NEW_ADMIN), [NEW_ADMIN]);
	const del = userRow(page, NEW_ADMIN).locator('button');
	assert.ok(await del.isEnabled());
	await del.click();
	await page.locator('#confirm').waitFor();
	assert.match(await page.textContent('#confirm-text'), /operator/);
	await screenshot(page, '10-delete-confirm');
	/* Escape cancels, and nothing is deleted. */
	await page.keyboard.press('Escape');
	await page.locator('#confirm').waitFor({ state: 'detached' });
	assert.deepEqual(await shownUsers(page), [NEW_ADMIN]);
	await del.click();
	await page.click('#confirm-ok');
	const m = await message(page);
	assert.deepEqual(m, { kind: 'ok', text: 'User “' + NEW_ADMIN + '” was deleted.' });
	await page.waitForFunction(() => /No user matches/.test(document.querySelector('#users-body').textContent));
});

test('a 401 (the deleted admin\'s token) returns to the login page with a message', STEP, async () => {
	const page = pages.newAdmin;
	await page.click('#nav-artifacts');
	const msg = page.locator('#login-message.msg-info');
	await msg.waitFor();
	assert.match(await msg.textContent(), /session has expired or was ended/);
	assert.equal(await page.evaluate(() => sessionStorage.getItem('wssgate.token')), null);
	await screenshot(page, '11-session-ended');
	await page.close();
});

test('a non-admin sees Artifacts and Logs but no Users management', STEP, async () => {
	const page = pages.viewer = await newPage();
	await login(page, VIEWER, VIEWER_PW);
	assert.match(page.url(), /#\/artifacts$/);
	assert.equal(await page.locator('#nav-users').count(), 0);
	assert.equal(await page.locator('#nav-artifacts').count(), 1);
	assert.equal(await page.locator('#nav-logs').count(), 1);
	await settled(page, '#routes');
	const echo = page.locator('#routes [data-route="echo"]');
	assert.equal(await echo.locator('.route-path').textContent(), '/services/Echo');
	/* Upstream addresses are for admins only. */
	assert.equal(await echo.locator('.route-upstreams').count(), 0);
	assert.deepEqual(await echo.locator('.route-types .badge').allTextContents(), ['PasswordDigest', 'PasswordText']);
	assert.deepEqual(await echo.locator('.route-roles .badge').allTextContents(), ['echo-users']);
	assert.equal(await echo.locator('.route-tls').textContent(), 'TLS not required');
	assert.ok(Number(await echo.locator('.route-requests').textContent()) >= 2);
	const faults = await echo.locator('.route-faults').textContent();
	assert.ok(Number(faults) >= 1);
	assert.deepEqual(await echo.locator('.route-fault-codes .badge').allTextContents(), ['wsse:FailedAuthentication ' + faults]);
	const secure = page.locator('#routes [data-route="secure"]');
	assert.equal(await secure.locator('.route-tls').textContent(), 'TLS required');
	assert.equal(await secure.locator('.route-roles').textContent(), 'any authenticated user');
	assert.equal(await secure.locator('.route-requests').textContent(), '0');
	await screenshot(page, '12-artifacts');

	await go(page, '#/users');
	await page.locator('main .msg-info').waitFor();
	assert.match(await page.textContent('main'), /for administrators/);
	assert.equal(await page.locator('#users-table').count(), 0);
	await screenshot(page, '13-users-not-admin');
});

test('a non-admin sees only its own log lines', STEP, async () => {
	const page = pages.viewer;
	await go(page, '#/logs');
	await settled(page, '#logs-body');
	assert.ok(await page.locator('#logs-body tr[data-kind]').count() >= 1);
	const users = await page.locator('#logs-body tr[data-kind] td:nth-child(4)').allTextContents();
	assert.deepEqual([...new Set(users)], [VIEWER]);
	assert.doesNotMatch(await page.textContent('#logs-body'), /mallory|unknown user/);
});

test('Logs filter by route, user and fault code', STEP, async () => {
	/* Everyone's lines and their causes are the admins'. */
	const page = await newPage();
	await login(page, ADMIN, ADMIN_PW);
	await go(page, '#/artifacts');
	await settled(page, '#routes');
	assert.match(await page.locator('#routes [data-route="echo"] .route-upstreams').textContent(), /^http:\/\/127\.0\.0\.1:\d+\/Echo$/);
	await go(page, '#/logs');
	await settled(page, '#logs-body');
	assert.ok(await page.locator('#logs-body tr[data-kind]').count() >= 3);

	await page.locator('#logs-fault option[value="wsse:FailedAuthentication"]').waitFor({ state: 'attached' });
	await page.selectOption('#logs-fault', 'wsse:FailedAuthentication');
	await page.click('#logs-form button[type="submit"]');
	await page.waitForFunction(() => {
		const rows = [...document.querySelectorAll('#logs-body tr[data-kind]')];
		return rows.length >= 2 && rows.every((r) => r.children[3].textContent === 'mallory');
	});
	await settled(page, '#logs-body');
	const rows = page.locator('#logs-body tr[data-kind]');
	assert.ok(await rows.count() >= 2);
	assert.equal(await page.locator('#logs-body tr[data-kind="access"]').count() >= 1, true);
	assert.match(await page.locator('#logs-body tr[data-kind="audit"]').first().textContent(), /auth_failure/);
	await screenshot(page, '14-logs-fault-filter');

	await page.click('#logs-clear');
	await page.fill('#logs-user', 'alice');
	await page.selectOption('#logs-route', 'echo');
	await page.press('#logs-user', 'Enter');
	await page.waitForFunction(() => {
		const rows = [...document.querySelectorAll('#logs-body tr[data-kind]')];
		return rows.length > 0 && rows.every((r) => r.children[3].textContent === 'alice' && r.children[2].textContent === 'echo');
	});
	await page.selectOption('#logs-route', 'management');
	await page.fill('#logs-user', VIEWER);
	await page.press('#logs-user', 'Enter');
	await page.waitForFunction((v) => {
		const rows = [...document.querySelectorAll('#logs-body tr[data-kind]')];
		return rows.length > 0 && rows.every((r) => r.children[3].textContent === v && r.children[2].textContent === 'management');
	}, VIEWER);
	await screenshot(page, '15-logs');
	await page.close();
});

test('the logged-in user changes its password', STEP, async () => {
	const page = pages.viewer;
	await page.click('#nav-password');
	await page.locator('#password-form').waitFor();
	await page.fill('#pw-old', VIEWER_PW);
	await page.fill('#pw-new', VIEWER_PW2);
	await page.fill('#pw-repeat', VIEWER_PW2 + 'x');
	await page.click('#password-submit');
	assert.equal(await page.textContent('#pw-repeat-error'), 'Repeat password must match the new password.');

	await page.fill('#pw-old', 'Wrong-current-Pw-1');
	await page.fill('#pw-repeat', VIEWER_PW2);
	await page.click('#password-submit');
	let m = await message(page);
	assert.equal(m.kind, 'err');
	assert.ok(m.text.length > 0);

	await page.fill('#pw-old', VIEWER_PW);
	await page.fill('#pw-new', VIEWER_PW2);
	await page.fill('#pw-repeat', VIEWER_PW2);
	await page.click('#password-submit');
	/* The change ended every session of the user, this one too (issue 13). */
	const done = page.locator('#login-message.msg-ok');
	await done.waitFor();
	assert.equal(await done.textContent(), 'Your password was changed. Please log in with the new password.');
	await screenshot(page, '16-password-changed');
	await login(page, VIEWER, VIEWER_PW2);
});

test('Logout calls /management/logout, and the old token is refused', STEP, async () => {
	const page = pages.viewer;
	const token = await page.evaluate(() => sessionStorage.getItem('wssgate.token'));
	const logout = page.waitForRequest((r) => r.url() === ORIGIN + '/management/logout');
	await page.click('#logout');
	const req = await logout;
	assert.equal(req.headers().authorization, 'Bearer ' + token);
	const msg = page.locator('#login-message.msg-ok');
	await msg.waitFor();
	assert.equal(await msg.textContent(), 'You have logged out.');
	assert.equal(await page.evaluate(() => sessionStorage.getItem('wssgate.token')), null);
	await screenshot(page, '17-logged-out');
	const status = await page.evaluate(async (t) => (await fetch('/management/routes',
		{ headers: { Authorization: 'Bearer ' + t } })).status, token);
	assert.equal(status, 401);
	/* The new password works, the old one no longer does. */
	await login(page, VIEWER, VIEWER_PW2);
	await page.click('#logout');
	await page.locator('#login-message.msg-ok').waitFor();
	await page.fill('#login-user', VIEWER);
	await page.fill('#login-password', VIEWER_PW);
	await page.click('#login-submit');
	await page.locator('#login-message.msg-err').waitFor();
	await page.close();
});

test('an expired session returns to the login page with a message', STEP, async () => {
	const page = await newPage();
	await page.clock.install();
	await page.goto(BASE);
	await login(page, ADMIN, ADMIN_PW);
	await page.clock.fastForward(TOKEN_TTL * 1000 + 2000);
	const msg = page.locator('#login-message.msg-info');
	await msg.waitFor();
	assert.equal(await msg.textContent(), 'Your session expired. Please log in again.');
	assert.equal(await page.evaluate(() => sessionStorage.getItem('wssgate.token')), null);
	await screenshot(page, '18-session-expired');
	await page.close();
});

test('nothing left the gateway\'s origin, and no script error or CSP violation happened', STEP, async () => {
	const foreign = requests.filter((u) => !u.startsWith(ORIGIN + '/') && !u.startsWith('data:') && u !== 'about:blank');
	assert.deepEqual(foreign, []);
	assert.deepEqual(problems, []);
});
