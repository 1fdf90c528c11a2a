/*
 * The session: the access token lives in sessionStorage (gone with the tab)
 * and in `state`; it travels only in the Authorization header.
 */

import { state, stopRefresh } from './state.js';

export const TOKEN_KEY = 'wssgate.token';

/*
 * Draws the current page again. The router sets it (setRedraw): it imports
 * this module, so this module cannot import it.
 */
let redraw = () => {};

export function setRedraw(fn) {
	redraw = fn;
}

/* UTF-8 text -> base64, as HTTP Basic expects for non-ASCII names. */
export function base64Utf8(s) {
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

export function me() {
	return state.claims ? state.claims.sub : '';
}

export function isAdmin() {
	return !!state.claims && state.claims.scope === 'admin';
}

export function startSession(token) {
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
export function endSession(message) {
	state.token = null;
	state.claims = null;
	sessionStorage.removeItem(TOKEN_KEY);
	clearTimeout(state.expiryTimer);
	stopRefresh();
	state.loginMessage = message || null;
	state.users = { query: '', page: 1 };
	state.store = null;
	if (location.hash !== '#/login')
		location.hash = '#/login';
	else
		redraw();
}
