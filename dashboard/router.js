/* The pages by location hash, and drawing the current one. */

import { viewArtifacts } from './artifacts.js';
import { CERTS_PREFIX, viewUserCerts } from './certs.js';
import { h } from './dom.js';
import { pageHead, shell } from './layout.js';
import { loginPage } from './login.js';
import { viewLogs } from './logs.js';
import { viewPassword } from './password.js';
import { api } from './api.js';
import { isAdmin } from './session.js';
import { readOnly, state, stopRefresh } from './state.js';
import { viewAddUser, viewUsers } from './users.js';

const VIEWS = {
	'/users': { title: 'Users', admin: true, nav: '/users', render: viewUsers },
	'/users/add': { title: 'Add user', admin: true, write: true, nav: '/users', render: viewAddUser },
	'/artifacts': { title: 'Artifacts', nav: '/artifacts', render: viewArtifacts },
	'/logs': { title: 'Logs', nav: '/logs', render: viewLogs },
	'/password': { title: 'Change password', write: true, nav: '/password', render: viewPassword },
};

/*
 * What the user store takes, asked once per session: a read-only store
 * (LDAP) gets no page that changes users. A gateway without the resource
 * (404) takes changes as before.
 */
let storeLoading = null;

function loadStore() {
	if (!storeLoading) {
		storeLoading = api('GET', '/userstore')
			.then((s) => {
				state.store = { type: String((s && s.type) || 'mariadb'), readOnly: !!(s && s.readOnly === true) };
			})
			.catch((e) => {
				if (e.status !== 401)
					state.store = { type: 'mariadb', readOnly: false };
			})
			.finally(() => {
				storeLoading = null;
			});
	}
	return storeLoading;
}

function homePath() {
	return isAdmin() ? '/users' : '/artifacts';
}

export function render() {
	stopRefresh();
	const app = document.getElementById('app');
	const path = location.hash.replace(/^#/, '');
	if (!state.token) {
		if (path !== '/login') {
			history.replaceState(null, '', '#/login');
		}
		document.title = 'Log in · wssgate';
		app.replaceChildren(loginPage(() => {
			history.replaceState(null, '', '#' + homePath());
			render();
		}));
		const user = document.getElementById('login-user');
		if (user)
			user.focus();
		return;
	}
	if (!state.store) {
		app.replaceChildren(h('main', { class: 'main', id: 'main', 'aria-busy': 'true' }, 'Loading…'));
		loadStore().then(() => {
			if (state.token && state.store)
				render();
		});
		return;
	}
	let view = VIEWS[path];
	/* A user's certificates: the user's name is the rest of the path. */
	if (!view && path.startsWith(CERTS_PREFIX) && path.length > CERTS_PREFIX.length) {
		let user = null;
		try {
			user = decodeURIComponent(path.slice(CERTS_PREFIX.length));
		} catch (e) {
			user = null;
		}
		if (user !== null)
			view = { title: 'Certificates', admin: true, write: true, nav: '/users', render: (main) => viewUserCerts(main, user) };
	}
	if (!view || (view.write && readOnly())) {
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
