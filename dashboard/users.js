/* The Users and Add user pages (admins only). */

import { api } from './api.js';
import { certsPath } from './certs.js';
import { badge, clearMessage, h, icon, showMessage } from './dom.js';
import { busy, clearOnInput, confirmDialog, field, flashBox, markInvalid, pageHead } from './layout.js';
import { me } from './session.js';
import { PAGE_SIZE, readOnly, state } from './state.js';

export function viewUsers(main) {
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
	const ro = readOnly();
	main.append(
		pageHead('Users', 'Accounts that can call the gateway\'s routes and log in to this dashboard.',
			ro ? null : h('a', { class: 'btn btn-primary', href: '#/users/add', id: 'add-user' }, icon('add'), 'Add user')),
		ro ? h('div', { class: 'msg msg-info', role: 'status', id: 'store-note' },
			'Users and roles come from the LDAP directory, which the gateway only reads: add, remove or change them with the directory\'s own tools.') : null,
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
	if (readOnly())
		return h('tr', { 'data-user': name },
			h('td', { class: 'cell-user' }, name, name === me() ? [' ', badge('you', 'muted')] : null),
			h('td', null, d.failed ? '' : d.isAdmin ? badge('Admin', 'admin') : h('span', { class: 'badge badge-muted' }, 'No')),
			h('td', null, d.failed ? h('span', { class: 'badge badge-err' }, d.failed)
				: Array.isArray(d.roles) && d.roles.length ? d.roles.map((r) => badge(r)) : h('span', { class: 'badge badge-muted' }, 'none')),
			h('td', null, h('span', { class: 'muted' }, 'directory')),
			h('td', { class: 'actions' }));
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
		h('td', { class: 'actions' },
			h('a', { class: 'btn btn-small', href: certsPath(name), 'aria-label': 'Certificates of ' + name }, 'Certificates'), ' ', del));
	return tr;
}

export function viewAddUser(main) {
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
