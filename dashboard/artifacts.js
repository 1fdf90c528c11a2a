/* The Artifacts page: the routes and their live counters. */

import { api } from './api.js';
import { badge, h, showMessage } from './dom.js';
import { flashBox, pageHead } from './layout.js';
import { REFRESH_MS, every } from './state.js';

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

export function viewArtifacts(main) {
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
