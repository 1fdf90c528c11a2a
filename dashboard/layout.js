/* The page frame (top bar and navigator) and the parts forms share. */

import { api } from './api.js';
import { badge, h, icon, showMessage } from './dom.js';
import { endSession, isAdmin, me } from './session.js';
import { readOnly, state } from './state.js';

/* Ends the token on the server, then here. */
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

export function shell(current, main) {
	const link = (path, iconName, text) => h('li', null,
		h('a', { href: '#' + path, 'aria-current': current === path ? 'page' : null, id: 'nav-' + path.slice(1) },
			icon(iconName), text));
	const items = [];
	if (isAdmin())
		items.push(h('li', { class: 'section' }, 'Management'), link('/users', 'users', 'Users'));
	items.push(h('li', { class: 'section' }, 'Monitoring'),
		link('/artifacts', 'artifacts', 'Artifacts'),
		link('/logs', 'logs', 'Logs'));
	/* A directory's passwords are changed with the directory's tools. */
	if (!readOnly())
		items.push(h('li', { class: 'section' }, 'Account'),
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

export function pageHead(title, sub, ...actions) {
	return h('div', { class: 'page-head' },
		h('div', null, h('h1', { tabindex: '-1' }, title), sub ? h('p', { class: 'page-sub' }, sub) : null),
		h('span', { class: 'spacer' }),
		actions);
}

/* The flash message left by the previous page, if any. */
export function flashBox() {
	const box = h('div', { class: 'msg', id: 'message' });
	if (state.flash) {
		showMessage(box, state.flash.kind, state.flash.text);
		state.flash = null;
	}
	return box;
}

export function field(id, label, input, hint) {
	input.id = id;
	const err = h('div', { class: 'error', id: id + '-error' });
	input.setAttribute('aria-describedby', id + '-error' + (hint ? ' ' + id + '-hint' : ''));
	return h('div', { class: 'field' },
		h('label', { for: id }, label), input,
		hint ? h('div', { class: 'hint', id: id + '-hint' }, hint) : null, err);
}

/* Marks the fields of `problems` ({id: text}) and focuses the first. */
export function markInvalid(form, problems) {
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
export function clearOnInput(form) {
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

export function busy(button, on) {
	button.disabled = on;
	button.setAttribute('aria-busy', on ? 'true' : 'false');
}

/* A modal confirmation; resolves true when confirmed. */
export function confirmDialog(title, text, confirmLabel) {
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
