/*
 * What the pages share: the session's token and claims, the filters a page
 * keeps while the user moves away and back, and the one refresh timer.
 */

export const PAGE_SIZE = 10;
export const REFRESH_MS = 5000;
export const LOG_LIMIT = 200;

export const state = {
	token: null,
	claims: null,
	expiryTimer: null,
	refreshTimer: null,
	flash: null,          /* {kind, text} shown by the next page */
	loginMessage: null,   /* {kind, text} shown by the login page */
	users: { query: '', page: 1 },
	store: null,          /* GET /userstore: {type, readOnly}; null until known */
	logs: { route: '', user: '', fault: '', kind: '', auto: true },
};

/* The user store takes no changes (an LDAP directory): pages offer none. */
export function readOnly() {
	return !!(state.store && state.store.readOnly);
}

/* A page's periodic refresh; the next page drawn stops it. */
export function stopRefresh() {
	clearInterval(state.refreshTimer);
	state.refreshTimer = null;
}

export function every(ms, fn) {
	stopRefresh();
	state.refreshTimer = setInterval(() => {
		if (!document.hidden)
			fn();
	}, ms);
}
