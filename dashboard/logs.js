/* The Logs page: the recent access and audit lines, filtered. */

import { api } from './api.js';
import { badge, h, showMessage } from './dom.js';
import { flashBox, pageHead } from './layout.js';
import { LOG_LIMIT, REFRESH_MS, every, state, stopRefresh } from './state.js';

export function viewLogs(main) {
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
