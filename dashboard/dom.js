/*
 * DOM helpers: every string from the server or the user becomes a text node
 * or an attribute value, never HTML.
 */

const SVG_NS = 'http://www.w3.org/2000/svg';

/*
 * h('tag', {attr: value, onclick: fn}, child, ...): children that are
 * not nodes become text nodes, so nothing is ever parsed as HTML.
 */
export function h(tag, attrs, ...children) {
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

export function icon(name) {
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

export function badge(text, kind) {
	return h('span', { class: 'badge' + (kind ? ' badge-' + kind : '') }, text);
}

export function showMessage(box, kind, text) {
	box.replaceChildren();
	box.className = 'msg msg-' + kind;
	box.setAttribute('role', kind === 'err' ? 'alert' : 'status');
	box.textContent = text;
}

export function clearMessage(box) {
	box.replaceChildren();
	box.className = 'msg';
}
