/*
 * A user's certificates (admins only): the X.509 certificates that stand
 * for the user on routes with auth = "x509", with adding (PEM pasted or
 * read from a file) and removing. The address is #/users/certificates/NAME.
 */

import { api } from './api.js';
import { clearMessage, h, showMessage } from './dom.js';
import { busy, confirmDialog, field, flashBox, pageHead } from './layout.js';

export const CERTS_PREFIX = '/users/certificates/';

export function certsPath(user) {
	return '#' + CERTS_PREFIX + encodeURIComponent(user);
}

function usersPath(user) {
	return '/users/' + encodeURIComponent(user) + '/certificates';
}

export function viewUserCerts(main, user) {
	const msg = flashBox();
	const tbody = h('tbody', { id: 'certs-body' });
	const pem = h('textarea', { name: 'certificate', rows: 8, spellcheck: 'false', placeholder: '-----BEGIN CERTIFICATE-----' });
	const file = h('input', { type: 'file', id: 'cert-file', accept: '.pem,.crt,.cer' });
	const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'cert-submit' }, 'Add certificate');
	const form = h('form', { class: 'form', novalidate: true, id: 'add-cert-form' },
		field('cert-pem', 'Certificate (PEM)', pem, 'Exactly one certificate, no private key. It stands for this user on routes with auth = "x509".'),
		h('div', { class: 'field' }, h('label', { for: 'cert-file' }, 'Or read a file'), file),
		h('div', { class: 'form-actions' }, submit, h('a', { class: 'btn', href: '#/users' }, 'Back to users')));
	file.addEventListener('change', async () => {
		if (file.files && file.files[0])
			pem.value = await file.files[0].text();
	});
	main.append(
		pageHead('Certificates of ' + user, 'X.509 certificates that sign for this user; its roles apply as for its password.'),
		msg,
		h('div', { class: 'panel flush' },
			h('table', { id: 'certs-table' },
				h('caption', { class: 'visually-hidden' }, 'Certificates of ' + user),
				h('thead', null, h('tr', null,
					h('th', { scope: 'col' }, 'Fingerprint (SHA-256)'),
					h('th', { scope: 'col' }, 'Subject'),
					h('th', { scope: 'col' }, 'Issuer'),
					h('th', { scope: 'col' }, 'Not after'),
					h('th', { scope: 'col', class: 'actions' }, h('span', { class: 'visually-hidden' }, 'Actions')))),
				tbody)),
		h('div', { class: 'panel' }, form));

	async function load() {
		tbody.replaceChildren(h('tr', null, h('td', { colspan: 5, class: 'empty' }, 'Loading…')));
		let list;
		try {
			const data = await api('GET', usersPath(user));
			list = data && Array.isArray(data.list) ? data.list : [];
		} catch (e) {
			if (e.status !== 401)
				showMessage(msg, 'err', e.message);
			tbody.replaceChildren(h('tr', null, h('td', { colspan: 5, class: 'empty' }, 'Certificates could not be loaded.')));
			return;
		}
		if (list.length === 0) {
			tbody.replaceChildren(h('tr', null, h('td', { colspan: 5, class: 'empty' }, 'No certificates.')));
			return;
		}
		tbody.replaceChildren(...list.map((c) => certRow(c)));
	}

	function certRow(c) {
		const fp = String(c.fingerprint);
		const del = h('button', { type: 'button', class: 'btn btn-small btn-danger', 'aria-label': 'Remove certificate ' + fp }, 'Remove');
		del.addEventListener('click', async () => {
			const ok = await confirmDialog('Remove certificate?', 'Remove the certificate ' + fp + ' from “' + user + '”?', 'Remove');
			if (!ok) {
				del.focus();
				return;
			}
			try {
				await api('DELETE', usersPath(user) + '/' + fp);
				showMessage(msg, 'ok', 'The certificate was removed.');
				load();
			} catch (e) {
				if (e.status !== 401)
					showMessage(msg, 'err', e.message);
			}
		});
		return h('tr', { 'data-fingerprint': fp },
			h('td', { class: 'cell-mono' }, h('code', null, fp)),
			h('td', null, String(c.subject)),
			h('td', null, String(c.issuer)),
			h('td', null, String(c.notAfter)),
			h('td', { class: 'actions' }, del));
	}

	form.addEventListener('submit', async (ev) => {
		ev.preventDefault();
		clearMessage(msg);
		if (!pem.value.trim()) {
			showMessage(msg, 'err', 'Paste a certificate or choose a file.');
			return;
		}
		busy(submit, true);
		try {
			const r = await api('POST', usersPath(user), { body: { certificate: pem.value } });
			showMessage(msg, 'ok', 'Certificate ' + r.fingerprint + ' was added.');
			form.reset();
			load();
		} catch (e) {
			if (e.status !== 401)
				showMessage(msg, 'err', e.message);
		} finally {
			busy(submit, false);
		}
	});
	load();
}
