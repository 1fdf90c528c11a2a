/* The management API, called with the session's token. */

import { endSession } from './session.js';
import { state } from './state.js';

export const API = '/management';

class ApiError extends Error {
	constructor(status, message) {
		super(message);
		this.status = status;
	}
}

/*
 * Calls the management API with the session's token. Resolves to the
 * parsed JSON body (or null); rejects with an ApiError whose message is
 * the server's "Error" text when it gave one. A 401 ends the session.
 */
export async function api(method, path, opts) {
	opts = opts || {};
	const headers = { Accept: 'application/json' };
	const sent = state.token;
	/* A page still loading when its session ended asks no more. */
	if (!sent)
		throw new ApiError(401, 'Not logged in.');
	headers.Authorization = 'Bearer ' + sent;
	let url = API + path;
	if (opts.query) {
		const q = new URLSearchParams();
		for (const [k, v] of Object.entries(opts.query))
			if (v !== undefined && v !== null && v !== '')
				q.set(k, String(v));
		if ([...q.keys()].length)
			url += '?' + q.toString();
	}
	const init = { method, headers, cache: 'no-store', credentials: 'omit' };
	if (opts.body !== undefined) {
		headers['Content-Type'] = 'application/json';
		init.body = JSON.stringify(opts.body);
	}
	let resp;
	try {
		resp = await fetch(url, init);
	} catch (e) {
		throw new ApiError(0, 'The gateway cannot be reached. Check that it is running.');
	}
	if (resp.status === 401) {
		/* Only the session that sent it ends: a late answer to an
		 * earlier session leaves the login page's message alone. */
		if (sent === state.token)
			endSession({ kind: 'info', text: 'Your session has expired or was ended. Please log in again.' });
		throw new ApiError(401, 'Not logged in.');
	}
	const text = await resp.text();
	let data = null;
	if (text) {
		try {
			data = JSON.parse(text);
		} catch (e) {
			data = null;
		}
	}
	const serverError = data && typeof data === 'object' && typeof data.Error === 'string' ? data.Error : null;
	if (!resp.ok || serverError !== null) {
		let msg = serverError;
		if (msg === null)
			msg = resp.status === 403 ? 'You are not allowed to do this.'
				: resp.status === 404 ? 'Not found.'
					: 'The gateway answered with HTTP status ' + resp.status + '.';
		throw new ApiError(resp.status, msg);
	}
	return data;
}
