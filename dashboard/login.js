/* The login page: HTTP Basic to /management/login, for a token. */

import { API } from './api.js';
import { clearMessage, h, showMessage } from './dom.js';
import { busy, clearOnInput, field, markInvalid } from './layout.js';
import { base64Utf8, startSession } from './session.js';
import { state } from './state.js';

/* The login form; `onLogin` runs once a session has started. */
export function loginPage(onLogin) {
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
			onLogin();
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
