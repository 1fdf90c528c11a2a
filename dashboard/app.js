/*
 * wssgate dashboard: a single-page client of the management API
 * (/management/*), served by the management listener under /dashboard/.
 *
 * Rules this file keeps:
 *  - every string that comes from the server or the user becomes a text
 *    node (textContent / createTextNode / attribute values); no innerHTML;
 *  - no inline script or style, so the Content-Security-Policy can forbid
 *    both;
 *  - the access token lives in sessionStorage and travels only in the
 *    Authorization header, never in a URL.
 */
'use strict';

(function () {
	const API = '/management';
	const TOKEN_KEY = 'wssgate.token';
	const PAGE_SIZE = 10;
	const REFRESH_MS = 5000;
	const LOG_LIMIT = 200;
	const SVG_NS = 'http://www.w3.org/2000/svg';

	const state = {
		token: null,
		claims: null,
		expiryTimer: null,
		refreshTimer: null,
		flash: null,          /* {kind, text} shown by the next page */
		loginMessage: null,   /* {kind, text} shown by the login page */
		users: { query: '', page: 1 },
		logs: { route: '', user: '', fault: '', kind: '', auto: true },
	};

	/* ---------------------------------------------------------------- DOM */

	/*
	 * h('tag', {attr: value, onclick: fn}, child, ...): children that are
	 * not nodes become text nodes, so nothing is ever parsed as HTML.
	 */
	function h(tag, attrs, ...children) {
		const el = document.createElement(tag);
		setAttrs(el, attrs);
		append(el, children);
		return el;
	}

	function setAttrs(el, attrs) {
		for (const [k, v] of Object.entries(attrs || {})) {
			if (v === null || v === undefined || v === false)
				continue;
			if (k.startsWith('on') && typeof v === 'function')
				el.addEventListener(k.slice(2), v);
			else if (k === 'class')
				el.setAttribute('class', v);
			else if (v === true)
				el.setAttribute(k, '');
			else
				el.setAttribute(k, String(v));
		}
	}

	function append(el, children) {
		for (const c of children.flat(Infinity)) {
			if (c === null || c === undefined || c === false)
				continue;
			el.append(c instanceof Node ? c : document.createTextNode(String(c)));
		}
	}

	/* Small line icons for the navigator, built as SVG nodes. */
	const ICONS = {
		users: ['M16 19v-1.5a3.5 3.5 0 0 0-3.5-3.5h-5A3.5 3.5 0 0 0 4 17.5V19', 'M10 11a3 3 0 1 0 0-6 3 3 0 0 0 0 6z', 'M20 19v-1.5a3.5 3.5 0 0 0-2.5-3.35', 'M15 5.2a3 3 0 0 1 0 5.6'],
		artifacts: ['M4 6h16v4H4z', 'M4 14h16v4H4z', 'M7 8h.01', 'M7 16h.01'],
		logs: ['M6 3h9l4 4v14H6z', 'M14 3v5h5', 'M9 12h7', 'M9 16h7'],
		key: ['M14.5 9.5a4 4 0 1 1-2.2-3.6', 'M12.3 12.3 20 20', 'M17 17l2-2', 'M15 15l1.5-1.5'],
		add: ['M12 5v14', 'M5 12h14'],
	};

	function icon(name) {
		const svg = document.createElementNS(SVG_NS, 'svg');
		svg.setAttribute('viewBox', '0 0 24 24');
		svg.setAttribute('class', 'icon');
		svg.setAttribute('aria-hidden', 'true');
		for (const d of ICONS[name]) {
			const p = document.createElementNS(SVG_NS, 'path');
			p.setAttribute('d', d);
			svg.append(p);
		}
		return svg;
	}

	function badge(text, kind) {
		return h('span', { class: 'badge' + (kind ? ' badge-' + kind : '') }, text);
	}

	function showMessage(box, kind, text) {
		box.replaceChildren();
		box.className = 'msg msg-' + kind;
		box.setAttribute('role', kind === 'err' ? 'alert' : 'status');
		box.textContent = text;
	}

	function clearMessage(box) {
		box.replaceChildren();
		box.className = 'msg';
	}

	/* ------------------------------------------------------------ session */

	/* UTF-8 text -> base64, as HTTP Basic expects for non-ASCII names. */
	function base64Utf8(s) {
		let bin = '';
		for (const b of new TextEncoder().encode(s))
			bin += String.fromCharCode(b);
		return btoa(bin);
	}

	/* The claims of a JWT (not verified: the server does that). */
	function decodeClaims(token) {
		const part = token.split('.')[1];
		if (!part)
			return null;
		try {
			const b64 = part.replace(/-/g, '+').replace(/_/g, '/');
			const bin = atob(b64 + '='.repeat((4 - b64.length % 4) % 4));
			const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
			const claims = JSON.parse(new TextDecoder().decode(bytes));
			return claims && typeof claims.sub === 'string' ? claims : null;
		} catch (e) {
			return null;
		}
	}

	function me() {
		return state.claims ? state.claims.sub : '';
	}

	function isAdmin() {
		return !!state.claims && state.claims.scope === 'admin';
	}

	function startSession(token) {
		const claims = decodeClaims(token);
		if (!claims)
			return false;
		if (typeof claims.exp === 'number' && claims.exp * 1000 <= Date.now())
			return false;
		state.token = token;
		state.claims = claims;
		sessionStorage.setItem(TOKEN_KEY, token);
		clearTimeout(state.expiryTimer);
		if (typeof claims.exp === 'number') {
			/* setTimeout holds at most 2^31-1 ms; longer tokens re-arm. */
			const ms = Math.min(claims.exp * 1000 - Date.now(), 0x7fffffff);
			state.expiryTimer = setTimeout(checkExpiry, Math.max(ms, 0));
		}
		return true;
	}

	function checkExpiry() {
		if (!state.claims)
			return;
		if (state.claims.exp * 1000 <= Date.now() + 500)
			endSession({ kind: 'info', text: 'Your session expired. Please log in again.' });
		else
			startSession(state.token);
	}

	/* Forgets the token and shows the login page with `message`. */
	function endSession(message) {
		state.token = null;
		state.claims = null;
		sessionStorage.removeItem(TOKEN_KEY);
		clearTimeout(state.expiryTimer);
		stopRefresh();
		state.loginMessage = message || null;
		state.users = { query: '', page: 1 };
		if (location.hash !== '#/login')
			location.hash = '#/login';
		else
			render();
	}

	async function logout() {
		try {
			await api('GET', '/logout');
		} catch (e) {
			/* The token is forgotten either way; a 401 has ended it. */
			if (e.status === 401)
				return;
		}
		endSession({ kind: 'ok', text: 'You have logged out.' });
	}

	/* ---------------------------------------------------------------- API */

	class ApiError extends Error {
		constructor(status, message) {
			super(message);
			this.status = status;
		}
	}

	/*
	 * Calls the management API with the session's token. Resolves to the
	 * parsed JSON body (or null); rejects with an ApiError whose message is
	 * the server's "Error" text when it gave one. A 401 ends the session.
	 */
	async function api(method, path, opts) {
		opts = opts || {};
		const headers = { Accept: 'application/json' };
		const sent = state.token;
		/* A page still loading when its session ended asks no more. */
		if (!sent)
			throw new ApiError(401, 'Not logged in.');
		headers.Authorization = 'Bearer ' + sent;
		let url = API + path;
		if (opts.query) {
			const q = new URLSearchParams();
			for (const [k, v] of Object.entries(opts.query))
				if (v !== undefined && v !== null && v !== '')
					q.set(k, String(v));
			if ([...q.keys()].length)
				url += '?' + q.toString();
		}
		const init = { method, headers, cache: 'no-store', credentials: 'omit' };
		if (opts.body !== undefined) {
			headers['Content-Type'] = 'application/json';
			init.body = JSON.stringify(opts.body);
		}
		let resp;
		try {
			resp = await fetch(url, init);
		} catch (e) {
			throw new ApiError(0, 'The gateway cannot be reached. Check that it is running.');
		}
		if (resp.status === 401) {
			/* Only the session that sent it ends: a late answer to an
			 * earlier session leaves the login page's message alone. */
			if (sent === state.token)
				endSession({ kind: 'info', text: 'Your session has expired or was ended. Please log in again.' });
			throw new ApiError(401, 'Not logged in.');
		}
		const text = await resp.text();
		let data = null;
		if (text) {
			try {
				data = JSON.parse(text);
			} catch (e) {
				data = null;
			}
		}
		const serverError = data && typeof data === 'object' && typeof data.Error === 'string' ? data.Error : null;
		if (!resp.ok || serverError !== null) {
			let msg = serverError;
			if (msg === null)
				msg = resp.status === 403 ? 'You are not allowed to do this.'
					: resp.status === 404 ? 'Not found.'
						: 'The gateway answered with HTTP status ' + resp.status + '.';
			throw new ApiError(resp.status, msg);
		}
		return data;
	}

	/* ------------------------------------------------------------- routes */

	const VIEWS = {
		'/users': { title: 'Users', admin: true, nav: '/users', render: viewUsers },
		'/users/add': { title: 'Add user', admin: true, nav: '/users', render: viewAddUser },
		'/artifacts': { title: 'Artifacts', nav: '/artifacts', render: viewArtifacts },
		'/logs': { title: 'Logs', nav: '/logs', render: viewLogs },
		'/password': { title: 'Change password', nav: '/password', render: viewPassword },
	};

	function homePath() {
		return isAdmin() ? '/users' : '/artifacts';
	}

	function stopRefresh() {
		clearInterval(state.refreshTimer);
		state.refreshTimer = null;
	}

	function every(ms, fn) {
		stopRefresh();
		state.refreshTimer = setInterval(() => {
			if (!document.hidden)
				fn();
		}, ms);
	}

	function render() {
		stopRefresh();
		const app = document.getElementById('app');
		const path = location.hash.replace(/^#/, '');
		if (!state.token) {
			if (path !== '/login') {
				history.replaceState(null, '', '#/login');
			}
			document.title = 'Log in · wssgate';
			app.replaceChildren(loginPage());
			const user = document.getElementById('login-user');
			if (user)
				user.focus();
			return;
		}
		const view = VIEWS[path];
		if (!view) {
			history.replaceState(null, '', '#' + homePath());
			render();
			return;
		}
		document.title = view.title + ' · wssgate';
		const main = h('main', { class: 'main', id: 'main' });
		app.replaceChildren(shell(view.nav, main));
		if (view.admin && !isAdmin()) {
			main.append(pageHead(view.title),
				h('div', { class: 'msg msg-info', role: 'status' },
					'This page is for administrators. Ask an administrator to manage users.'));
			return;
		}
		view.render(main);
	}

	/* ------------------------------------------------------------- layout */

	function shell(current, main) {
		const link = (path, iconName, text) => h('li', null,
			h('a', { href: '#' + path, 'aria-current': current === path ? 'page' : null, id: 'nav-' + path.slice(1) },
				icon(iconName), text));
		const items = [];
		if (isAdmin())
			items.push(h('li', { class: 'section' }, 'Management'), link('/users', 'users', 'Users'));
		items.push(h('li', { class: 'section' }, 'Monitoring'),
			link('/artifacts', 'artifacts', 'Artifacts'),
			link('/logs', 'logs', 'Logs'),
			h('li', { class: 'section' }, 'Account'),
			link('/password', 'key', 'Change password'));
		return h('div', { class: 'shell' },
			h('header', { class: 'topbar' },
				h('img', { src: 'logo.svg', alt: '' }),
				h('span', { class: 'product' }, 'wssgate'),
				h('span', { class: 'product-sub' }, 'Gateway dashboard'),
				h('span', { class: 'spacer' }),
				h('span', { class: 'who' },
					h('span', { class: 'visually-hidden' }, 'Logged in as'),
					h('span', { class: 'user-name', id: 'current-user' }, me()),
					isAdmin() ? badge('Admin') : badge('User')),
				h('button', { type: 'button', class: 'btn btn-small', id: 'logout', onclick: logout }, 'Log out')),
			h('nav', { class: 'nav', 'aria-label': 'Main' }, h('ul', null, items)),
			main);
	}

	function pageHead(title, sub, ...actions) {
		return h('div', { class: 'page-head' },
			h('div', null, h('h1', { tabindex: '-1' }, title), sub ? h('p', { class: 'page-sub' }, sub) : null),
			h('span', { class: 'spacer' }),
			actions);
	}

	/* The flash message left by the previous page, if any. */
	function flashBox() {
		const box = h('div', { class: 'msg', id: 'message' });
		if (state.flash) {
			showMessage(box, state.flash.kind, state.flash.text);
			state.flash = null;
		}
		return box;
	}

	function field(id, label, input, hint) {
		input.id = id;
		const err = h('div', { class: 'error', id: id + '-error' });
		input.setAttribute('aria-describedby', id + '-error' + (hint ? ' ' + id + '-hint' : ''));
		return h('div', { class: 'field' },
			h('label', { for: id }, label), input,
			hint ? h('div', { class: 'hint', id: id + '-hint' }, hint) : null, err);
	}

	/* Marks the fields of `problems` ({id: text}) and focuses the first. */
	function markInvalid(form, problems) {
		for (const input of form.querySelectorAll('input')) {
			input.removeAttribute('aria-invalid');
			const err = document.getElementById(input.id + '-error');
			if (err)
				err.textContent = '';
		}
		let first = null;
		for (const [id, text] of Object.entries(problems)) {
			const input = document.getElementById(id);
			input.setAttribute('aria-invalid', 'true');
			document.getElementById(id + '-error').textContent = text;
			first = first || input;
		}
		if (first)
			first.focus();
		return first === null;
	}

	/* A field's error goes away as soon as the user edits it. */
	function clearOnInput(form) {
		form.addEventListener('input', (ev) => {
			const input = ev.target;
			if (!input.id || input.getAttribute('aria-invalid') !== 'true')
				return;
			input.removeAttribute('aria-invalid');
			const err = document.getElementById(input.id + '-error');
			if (err)
				err.textContent = '';
		});
		return form;
	}

	function busy(button, on) {
		button.disabled = on;
		button.setAttribute('aria-busy', on ? 'true' : 'false');
	}

	/* A modal confirmation; resolves true when confirmed. */
	function confirmDialog(title, text, confirmLabel) {
		return new Promise((resolve) => {
			const cancel = h('button', { type: 'button', class: 'btn', id: 'confirm-cancel' }, 'Cancel');
			const ok = h('button', { type: 'button', class: 'btn btn-danger-solid', id: 'confirm-ok' }, confirmLabel);
			const dlg = h('dialog', { 'aria-labelledby': 'confirm-title', 'aria-describedby': 'confirm-text', id: 'confirm' },
				h('h2', { id: 'confirm-title' }, title),
				h('p', { id: 'confirm-text' }, text),
				h('div', { class: 'form-actions' }, cancel, ok));
			let answer = false;
			cancel.addEventListener('click', () => dlg.close());
			ok.addEventListener('click', () => {
				answer = true;
				dlg.close();
			});
			dlg.addEventListener('close', () => {
				dlg.remove();
				resolve(answer);
			});
			document.body.append(dlg);
			dlg.showModal();
			cancel.focus();
		});
	}

	/* -------------------------------------------------------------- login */

	function loginPage() {
		const msg = h('div', { class: 'msg', id: 'login-message' });
		if (state.loginMessage) {
			showMessage(msg, state.loginMessage.kind, state.loginMessage.text);
			state.loginMessage = null;
		}
		const user = h('input', { type: 'text', name: 'username', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' });
		const pw = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true });
		const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'login-submit' }, 'Log in');
		const form = clearOnInput(h('form', { novalidate: true, id: 'login-form' },
			field('login-user', 'User name', user),
			field('login-password', 'Password', pw),
			submit));
		form.addEventListener('submit', async (ev) => {
			ev.preventDefault();
			const problems = {};
			if (!user.value)
				problems['login-user'] = 'Enter your user name.';
			if (!pw.value)
				problems['login-password'] = 'Enter your password.';
			if (!markInvalid(form, problems))
				return;
			busy(submit, true);
			clearMessage(msg);
			try {
				const token = await login(user.value, pw.value);
				pw.value = '';
				if (!startSession(token)) {
					showMessage(msg, 'err', 'The gateway sent a token this dashboard cannot read.');
					return;
				}
				history.replaceState(null, '', '#' + homePath());
				render();
			} catch (e) {
				showMessage(msg, 'err', e.message);
				pw.value = '';
				pw.focus();
			} finally {
				busy(submit, false);
			}
		});
		return h('div', { class: 'login-page' },
			h('section', { class: 'login-card', 'aria-labelledby': 'login-title' },
				h('div', { class: 'login-brand' },
					h('img', { src: 'logo.svg', alt: '' }),
					h('div', null, h('div', { class: 'name' }, 'wssgate'),
						h('div', { class: 'sub' }, 'WS-Security gateway dashboard'))),
				h('h1', { id: 'login-title' }, 'Log in'),
				msg, form,
				h('p', { class: 'login-foot' }, 'Your session ends when you log out or close this tab.')));
	}

	async function login(name, password) {
		let resp;
		try {
			resp = await fetch(API + '/login', {
				headers: { Authorization: 'Basic ' + base64Utf8(name + ':' + password), Accept: 'application/json' },
				cache: 'no-store',
				credentials: 'omit',
			});
		} catch (e) {
			throw new Error('The gateway cannot be reached. Check that it is running.');
		}
		if (resp.status === 401)
			throw new Error('Wrong user name or password, or this user may not log in.');
		let data = null;
		try {
			data = await resp.json();
		} catch (e) {
			data = null;
		}
		if (data && typeof data.Error === 'string')
			throw new Error(data.Error);
		if (!resp.ok || !data || typeof data.AccessToken !== 'string')
			throw new Error('Login failed: the gateway answered with HTTP status ' + resp.status + '.');
		return data.AccessToken;
	}

	/* -------------------------------------------------------------- users */

	function viewUsers(main) {
		const msg = flashBox();
		const search = h('input', { type: 'search', name: 'search', autocomplete: 'off', placeholder: 'Name contains… or a pattern such as adm*', value: state.users.query });
		const form = h('form', { class: 'toolbar', role: 'search', id: 'user-search-form' },
			h('div', { class: 'field grow' }, h('label', { for: 'user-search' }, 'Search users'), search),
			h('button', { type: 'submit', class: 'btn' }, 'Search'),
			h('button', { type: 'button', class: 'btn', onclick: () => {
				search.value = '';
				state.users = { query: '', page: 1 };
				load();
			} }, 'Clear'));
		search.id = 'user-search';
		form.addEventListener('submit', (ev) => {
			ev.preventDefault();
			state.users = { query: search.value, page: 1 };
			load();
		});
		const tbody = h('tbody', { id: 'users-body' });
		const summary = h('span', { id: 'users-summary' });
		const prev = h('button', { type: 'button', class: 'btn btn-small', id: 'users-prev' }, 'Previous');
		const next = h('button', { type: 'button', class: 'btn btn-small', id: 'users-next' }, 'Next');
		prev.addEventListener('click', () => {
			state.users.page--;
			load();
		});
		next.addEventListener('click', () => {
			state.users.page++;
			load();
		});
		main.append(
			pageHead('Users', 'Accounts that can call the gateway\'s routes and log in to this dashboard.',
				h('a', { class: 'btn btn-primary', href: '#/users/add', id: 'add-user' }, icon('add'), 'Add user')),
			msg, form,
			h('div', { class: 'panel flush' },
				h('table', { id: 'users-table' },
					h('caption', { class: 'visually-hidden' }, 'Users'),
					h('thead', null, h('tr', null,
						h('th', { scope: 'col' }, 'User ID'),
						h('th', { scope: 'col' }, 'Admin'),
						h('th', { scope: 'col' }, 'Roles'),
						h('th', { scope: 'col' }, 'Created by'),
						h('th', { scope: 'col', class: 'actions' }, h('span', { class: 'visually-hidden' }, 'Actions')))),
					tbody),
				h('div', { class: 'pager' }, summary, h('span', { class: 'spacer' }), prev, next)));

		let generation = 0;
		async function load() {
			const mine = ++generation;
			tbody.setAttribute('aria-busy', 'true');
			tbody.replaceChildren(h('tr', null, h('td', { colspan: 5, class: 'empty' }, 'Loading…')));
			const q = state.users.query.trim();
			const query = /[*?]/.test(q) ? { pattern: q } : { searchKey: q };
			let names;
			try {
				const data = await api('GET', '/users', { query });
				names = (data && Array.isArray(data.list) ? data.list : []).map((u) => String(u.userId));
			} catch (e) {
				if (e.status !== 401)
					showMessage(msg, 'err', e.message);
				tbody.replaceChildren(h('tr', null, h('td', { colspan: 5, class: 'empty' }, 'Users could not be loaded.')));
				tbody.setAttribute('aria-busy', 'false');
				return;
			}
			names.sort((a, b) => a.localeCompare(b));
			const pages = Math.max(1, Math.ceil(names.length / PAGE_SIZE));
			state.users.page = Math.min(Math.max(1, state.users.page), pages);
			const first = (state.users.page - 1) * PAGE_SIZE;
			const shown = names.slice(first, first + PAGE_SIZE);
			const details = await Promise.all(shown.map((n) =>
				api('GET', '/users/' + encodeURIComponent(n)).catch((e) => ({ userId: n, failed: e.message }))));
			if (mine !== generation || !state.token)
				return;
			summary.textContent = names.length === 0 ? 'No users'
				: 'Showing ' + (first + 1) + '–' + (first + shown.length) + ' of ' + names.length +
				' · page ' + state.users.page + ' of ' + pages;
			prev.disabled = state.users.page <= 1;
			next.disabled = state.users.page >= pages;
			if (names.length === 0)
				tbody.replaceChildren(h('tr', null, h('td', { colspan: 5, class: 'empty' },
					q ? 'No user matches this search.' : 'No users yet.')));
			else
				tbody.replaceChildren(...details.map((d) => userRow(d, msg, load)));
			tbody.setAttribute('aria-busy', 'false');
		}
		load();
	}

	/* Why the current user may not delete `d`, or null when it may. */
	function deleteBlocked(d) {
		if (d.userId === me())
			return 'You cannot delete the user you are logged in as.';
		if (d.isAdmin && 'createdBy' in d && d.createdBy !== me()) {
			if (d.createdBy === null || d.createdBy === undefined || d.createdBy === '')
				return 'This admin was created with the command line; only the command line can delete it.';
			return 'Only ' + d.createdBy + ', who created this admin, can delete it.';
		}
		return null;
	}

	function userRow(d, msg, reload) {
		const name = String(d.userId);
		const roles = Array.isArray(d.roles) ? d.roles : [];
		const blocked = d.failed ? null : deleteBlocked(d);
		const del = h('button', { type: 'button', class: 'btn btn-small btn-danger', 'aria-label': 'Delete ' + name }, 'Delete');
		if (blocked) {
			del.disabled = true;
			del.title = blocked;
		}
		del.addEventListener('click', async () => {
			const ok = await confirmDialog('Delete user?', 'Delete the user “' + name + '”? This cannot be undone.', 'Delete user');
			if (!ok) {
				del.focus();
				return;
			}
			try {
				await api('DELETE', '/users/' + encodeURIComponent(name));
				showMessage(msg, 'ok', 'User “' + name + '” was deleted.');
				reload();
			} catch (e) {
				if (e.status !== 401)
					showMessage(msg, 'err', e.message);
			}
		});
		const tr = h('tr', { 'data-user': name },
			h('td', { class: 'cell-user' }, name, name === me() ? [' ', badge('you', 'muted')] : null),
			h('td', null, d.failed ? '' : d.isAdmin ? badge('Admin', 'admin') : h('span', { class: 'badge badge-muted' }, 'No')),
			h('td', null, d.failed ? h('span', { class: 'badge badge-err' }, d.failed)
				: roles.length ? roles.map((r) => badge(r)) : h('span', { class: 'badge badge-muted' }, 'none')),
			h('td', null, 'createdBy' in d ? (d.createdBy ? d.createdBy : h('span', { class: 'muted' }, 'command line')) : ''),
			h('td', { class: 'actions' }, del));
		return tr;
	}

	function viewAddUser(main) {
		const msg = flashBox();
		const name = h('input', { type: 'text', name: 'userId', autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false', required: true });
		const pw = h('input', { type: 'password', name: 'password', autocomplete: 'new-password', required: true });
		const pw2 = h('input', { type: 'password', name: 'repeat', autocomplete: 'new-password', required: true });
		const admin = h('input', { type: 'checkbox', name: 'isAdmin', id: 'add-admin' });
		const roleBox = h('fieldset', { class: 'checks', id: 'add-roles' },
			h('legend', null, 'Roles'), h('span', { class: 'hint' }, 'Loading roles…'));
		const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'add-submit' }, 'Add user');
		const form = clearOnInput(h('form', { class: 'form', novalidate: true, id: 'add-user-form' },
			field('add-name', 'User name', name),
			field('add-password', 'Password', pw),
			field('add-repeat', 'Repeat password', pw2),
			h('div', { class: 'field' },
				h('label', { class: 'check', for: 'add-admin' }, admin, 'Is Admin'),
				h('div', { class: 'hint' }, 'Admins manage users from this dashboard and the management API.')),
			h('div', { class: 'field' }, roleBox,
				h('div', { class: 'hint' }, 'A route admits users holding one of its roles.')),
			h('div', { class: 'form-actions' }, submit, h('a', { class: 'btn', href: '#/users' }, 'Cancel'))));
		main.append(pageHead('Add user', 'Create an account for a SOAP client or a dashboard user.'),
			h('div', { class: 'panel' }, msg, form));
		name.focus();

		api('GET', '/roles').then((data) => {
			const roles = (data && Array.isArray(data.list) ? data.list : []).map((r) => String(r.role));
			roles.sort((a, b) => a.localeCompare(b));
			const boxes = roles.map((r, i) => h('label', { class: 'check', for: 'add-role-' + i },
				h('input', { type: 'checkbox', name: 'role', value: r, id: 'add-role-' + i }), r));
			roleBox.replaceChildren(h('legend', null, 'Roles'),
				...(boxes.length ? boxes : [h('span', { class: 'hint' }, 'No roles exist yet.')]));
		}).catch((e) => {
			if (e.status !== 401)
				roleBox.replaceChildren(h('legend', null, 'Roles'),
					h('span', { class: 'hint' }, 'Roles could not be loaded: ' + e.message));
		});

		form.addEventListener('submit', async (ev) => {
			ev.preventDefault();
			clearMessage(msg);
			const problems = {};
			if (!name.value.trim())
				problems['add-name'] = 'User name is missing.';
			else if (name.value.includes(':'))
				problems['add-name'] = 'A user name cannot contain ":".';
			if (!pw.value)
				problems['add-password'] = 'Password is missing.';
			if (pw.value && pw2.value !== pw.value)
				problems['add-repeat'] = 'Repeat password must match the password.';
			if (!markInvalid(form, problems))
				return;
			const roles = [...form.querySelectorAll('input[name="role"]:checked')].map((c) => c.value);
			busy(submit, true);
			try {
				await api('POST', '/users', {
					body: { userId: name.value, password: pw.value, isAdmin: admin.checked, roles },
				});
				state.flash = { kind: 'ok', text: 'User “' + name.value + '” was added' + (admin.checked ? ' as an admin.' : '.') };
				form.reset();
				location.hash = '#/users';
			} catch (e) {
				if (e.status !== 401) {
					showMessage(msg, 'err', e.message);
					msg.scrollIntoView({ block: 'nearest' });
				}
			} finally {
				busy(submit, false);
			}
		});
	}

	/* ----------------------------------------------------------- password */

	function viewPassword(main) {
		const msg = flashBox();
		const old = h('input', { type: 'password', name: 'oldPassword', autocomplete: 'current-password', required: true });
		const pw = h('input', { type: 'password', name: 'newPassword', autocomplete: 'new-password', required: true });
		const pw2 = h('input', { type: 'password', name: 'confirmPassword', autocomplete: 'new-password', required: true });
		const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'password-submit' }, 'Change password');
		const form = clearOnInput(h('form', { class: 'form', novalidate: true, id: 'password-form' },
			field('pw-old', 'Current password', old),
			field('pw-new', 'New password', pw),
			field('pw-repeat', 'Repeat new password', pw2),
			h('div', { class: 'form-actions' }, submit)));
		main.append(pageHead('Change password', 'Change the password of ' + me() + '.'),
			h('div', { class: 'panel' }, msg, form));
		old.focus();
		form.addEventListener('submit', async (ev) => {
			ev.preventDefault();
			clearMessage(msg);
			const problems = {};
			if (!old.value)
				problems['pw-old'] = 'Enter your current password.';
			if (!pw.value)
				problems['pw-new'] = 'New password is missing.';
			if (pw.value && pw2.value !== pw.value)
				problems['pw-repeat'] = 'Repeat password must match the new password.';
			if (!markInvalid(form, problems))
				return;
			busy(submit, true);
			try {
				await api('PATCH', '/users/' + encodeURIComponent(me()), {
					body: { oldPassword: old.value, newPassword: pw.value, confirmPassword: pw2.value },
				});
				/* The change ended every token of this user, this one too. */
				endSession({ kind: 'ok', text: 'Your password was changed. Please log in with the new password.' });
			} catch (e) {
				if (e.status !== 401)
					showMessage(msg, 'err', e.message);
			} finally {
				busy(submit, false);
			}
		});
	}

	/* ---------------------------------------------------------- artifacts */

	function stat(label, id) {
		return h('div', { class: 'stat' }, h('div', { class: 'k' }, label), h('div', { class: 'v', id }, '–'));
	}

	function faultList(byCode) {
		const entries = Object.entries(byCode || {}).sort((a, b) => b[1] - a[1]);
		if (!entries.length)
			return null;
		return entries.map(([code, n]) => h('div', null, badge(code + ' ' + n, 'err')));
	}

	const AUTH_MODES = {
		wsse: 'WS-Security UsernameToken',
		basic: 'HTTP Basic',
		wsse_or_basic: 'UsernameToken or HTTP Basic',
	};

	/* One route as a card: what it requires on the left, its counters on the right. */
	function routeCard(r) {
		const item = (label, cls, ...value) => [h('dt', null, label), h('dd', { class: cls }, value)];
		return h('section', { class: 'route-card', 'data-route': r.name, 'aria-label': 'Route ' + r.name },
			h('header', { class: 'route-head' },
				h('h2', null, r.name),
				h('code', { class: 'route-path' }, r.path),
				h('span', { class: 'spacer' }),
				h('span', { class: 'route-tls' }, r.requireTls ? badge('TLS required', 'ok') : badge('TLS not required', 'muted'))),
			h('div', { class: 'route-body' },
				h('dl', { class: 'route-facts' },
					/* Only admins are told the upstream addresses. */
					'upstreams' in r ? item('Upstreams', 'route-upstreams', r.upstreams.map((u) => h('div', null, h('code', null, u)))) : null,
					item('Password types', 'route-types', (r.passwordTypes || []).map((t) => badge(t))),
					item('Roles', 'route-roles', (r.roles || []).length ? r.roles.map((x) => badge(x))
						: h('span', { class: 'muted' }, 'any authenticated user')),
					item('Policy', 'route-policy',
						badge(AUTH_MODES[r.auth] || String(r.auth)),
						badge(r.requireTimestamp ? 'Timestamp required' : 'Timestamp optional'),
						badge('Upstream timeout ' + r.timeout + ' s'),
						r.stripSecurityHeader ? null : badge('Security header forwarded'))),
				h('div', { class: 'route-counts' },
					h('div', { class: 'count' }, h('div', { class: 'k' }, 'Requests'),
						h('div', { class: 'v route-requests' }, String(r.requests || 0))),
					h('div', { class: 'count' }, h('div', { class: 'k' }, 'Faults'),
						h('div', { class: 'v route-faults' }, String(r.faults || 0))),
					h('div', { class: 'route-fault-codes' }, faultList(r.faultsByCode)))));
	}

	function viewArtifacts(main) {
		const msg = flashBox();
		const cards = h('div', { id: 'routes', class: 'route-list', 'aria-busy': 'true' },
			h('div', { class: 'panel empty' }, 'Loading…'));
		const updated = h('span', { class: 'updated', id: 'routes-updated', 'aria-live': 'polite' });
		main.append(
			pageHead('Artifacts', 'The routes this gateway serves, with live counters since it started.', updated),
			msg,
			h('div', { class: 'stats' },
				stat('Routes', 'stat-routes'), stat('Requests', 'stat-requests'),
				stat('Faults', 'stat-faults'), stat('Requests matching no route', 'stat-unrouted')),
			cards);

		async function load() {
			let data;
			try {
				data = await api('GET', '/routes');
			} catch (e) {
				if (e.status !== 401)
					showMessage(msg, 'err', e.message);
				return;
			}
			const list = data && Array.isArray(data.list) ? data.list : [];
			let requests = 0, faults = 0;
			for (const r of list) {
				requests += r.requests || 0;
				faults += r.faults || 0;
			}
			const un = data.unrouted || {};
			document.getElementById('stat-routes').textContent = String(list.length);
			document.getElementById('stat-requests').textContent = String(requests + (un.requests || 0));
			document.getElementById('stat-faults').textContent = String(faults + (un.faults || 0));
			document.getElementById('stat-unrouted').textContent = String(un.requests || 0);
			updated.textContent = 'Updated ' + new Date().toLocaleTimeString();
			if (list.length)
				cards.replaceChildren(...list.map(routeCard));
			else
				cards.replaceChildren(h('div', { class: 'panel empty' }, 'No routes are configured.'));
			cards.setAttribute('aria-busy', 'false');
		}
		load();
		every(REFRESH_MS, load);
	}

	/* --------------------------------------------------------------- logs */

	function viewLogs(main) {
		const msg = flashBox();
		const f = state.logs;
		const route = h('select', { name: 'route' }, h('option', { value: '' }, 'All routes'));
		const user = h('input', { type: 'text', name: 'user', autocomplete: 'off', value: f.user, spellcheck: 'false' });
		const fault = h('select', { name: 'fault' }, h('option', { value: '' }, 'Any'), h('option', { value: '-' }, 'No fault'));
		const kind = h('select', { name: 'kind' },
			h('option', { value: '' }, 'Access and audit'),
			h('option', { value: 'access' }, 'Access'),
			h('option', { value: 'audit' }, 'Audit'));
		const auto = h('input', { type: 'checkbox', id: 'logs-auto', checked: f.auto });
		route.id = 'logs-route';
		user.id = 'logs-user';
		fault.id = 'logs-fault';
		kind.id = 'logs-kind';
		kind.value = f.kind;
		const form = h('form', { class: 'toolbar', id: 'logs-form' },
			h('div', { class: 'field' }, h('label', { for: 'logs-route' }, 'Route'), route),
			h('div', { class: 'field' }, h('label', { for: 'logs-user' }, 'User'), user),
			h('div', { class: 'field' }, h('label', { for: 'logs-fault' }, 'Fault code'), fault),
			h('div', { class: 'field' }, h('label', { for: 'logs-kind' }, 'Lines'), kind),
			h('button', { type: 'submit', class: 'btn btn-primary' }, 'Apply'),
			h('button', { type: 'button', class: 'btn', id: 'logs-clear', onclick: () => {
				state.logs = { route: '', user: '', fault: '', kind: '', auto: auto.checked };
				route.value = fault.value = kind.value = user.value = '';
				load();
			} }, 'Clear'));
		const tbody = h('tbody', { id: 'logs-body' });
		const summary = h('p', { class: 'updated', id: 'logs-summary', 'aria-live': 'polite' });
		main.append(pageHead('Logs', 'The most recent access and audit lines. Passwords, digests and nonces are never logged.',
			h('label', { class: 'check', for: 'logs-auto' }, auto, 'Refresh every 5 s')),
			msg, form,
			h('div', { class: 'panel flush' },
				h('table', { class: 'logs', id: 'logs-table' },
					h('caption', { class: 'visually-hidden' }, 'Log lines'),
					h('thead', null, h('tr', null,
						h('th', { scope: 'col' }, 'Time (UTC)'),
						h('th', { scope: 'col' }, 'Line'),
						h('th', { scope: 'col' }, 'Route'),
						h('th', { scope: 'col' }, 'User'),
						h('th', { scope: 'col' }, 'Result'),
						h('th', { scope: 'col' }, 'Details'))),
					tbody)),
			summary);

		/* Route names come from the Artifacts resource. */
		api('GET', '/routes').then((data) => {
			const names = (data && Array.isArray(data.list) ? data.list : []).map((r) => String(r.name));
			for (const n of names.concat(['management']))
				route.append(h('option', { value: n }, n));
			route.value = f.route;
		}).catch(() => { /* the filter still works by typing into User */ });

		let faultsListed = false;
		form.addEventListener('submit', (ev) => {
			ev.preventDefault();
			state.logs = { route: route.value, user: user.value, fault: fault.value, kind: kind.value, auto: auto.checked };
			load();
		});
		auto.addEventListener('change', () => {
			state.logs.auto = auto.checked;
			if (auto.checked)
				every(REFRESH_MS, load);
			else
				stopRefresh();
		});

		async function load() {
			const q = state.logs;
			tbody.setAttribute('aria-busy', 'true');
			let data;
			try {
				data = await api('GET', '/logs', {
					query: { route: q.route, user: q.user, fault: q.fault, kind: q.kind, limit: LOG_LIMIT },
				});
			} catch (e) {
				if (e.status !== 401)
					showMessage(msg, 'err', e.message);
				tbody.setAttribute('aria-busy', 'false');
				return;
			}
			if (!faultsListed && data && Array.isArray(data.faultCodes)) {
				faultsListed = true;
				for (const c of data.faultCodes)
					fault.append(h('option', { value: c }, c));
				fault.value = q.fault;
			}
			const list = data && Array.isArray(data.list) ? data.list : [];
			summary.textContent = list.length + ' line' + (list.length === 1 ? '' : 's') + ' shown, newest first; the gateway keeps the last ' +
				(data.capacity || 0) + ' lines in memory. Updated ' + new Date().toLocaleTimeString() + '.';
			if (!list.length)
				tbody.replaceChildren(h('tr', null, h('td', { colspan: 6, class: 'empty' }, 'No log lines match.')));
			else
				tbody.replaceChildren(...list.map(logRow));
			tbody.setAttribute('aria-busy', 'false');
		}
		load();
		if (f.auto)
			every(REFRESH_MS, load);
	}

	function logRow(e) {
		const time = String(e.time || '').replace('T', ' ').replace(/Z$/, '');
		let result, details;
		if (e.kind === 'access') {
			const failed = e.fault && e.fault !== '-';
			result = [badge(String(e.status), e.status >= 400 || failed ? 'err' : 'ok'), failed ? badge(e.fault, 'err') : null];
			details = h('span', { class: 'mono' }, (typeof e.latencyMs === 'number' ? e.latencyMs.toFixed(1) + ' ms · ' : '') + 'rid ' + e.rid);
		} else {
			result = badge(String(e.event || 'audit'));
			details = [h('div', null, String(e.reason || '')), h('span', { class: 'mono' }, 'rid ' + e.rid)];
		}
		return h('tr', { 'data-kind': e.kind, title: e.line || '' },
			h('td', { class: 'time mono' }, time),
			h('td', null, badge(e.kind === 'access' ? 'access' : 'audit', 'muted')),
			h('td', null, e.route || '–'),
			h('td', { class: 'cell-user' }, e.user || '–'),
			h('td', null, result),
			h('td', null, details));
	}

	/* --------------------------------------------------------------- start */

	function start() {
		const saved = sessionStorage.getItem(TOKEN_KEY);
		if (saved && !startSession(saved)) {
			sessionStorage.removeItem(TOKEN_KEY);
			state.loginMessage = { kind: 'info', text: 'Your session expired. Please log in again.' };
		}
		window.addEventListener('hashchange', () => {
			render();
			/* Move focus to the new page unless the page chose a field. */
			const h1 = document.querySelector('main h1');
			if (h1 && (document.activeElement === document.body || !document.activeElement))
				h1.focus({ preventScroll: true });
		});
		render();
	}

	if (document.readyState === 'loading')
		document.addEventListener('DOMContentLoaded', start);
	else
		start();
})();
