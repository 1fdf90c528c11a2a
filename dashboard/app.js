/*
 * wssgate dashboard: a single-page client of the management API
 * (/management/*), served by the management listener under /dashboard/.
 * This is the entry module (index.html loads it with type="module"); each
 * page and concern is a module of its own in this folder.
 *
 * Rules every module keeps:
 *  - every string that comes from the server or the user becomes a text
 *    node (textContent / createTextNode / attribute values); no innerHTML;
 *  - no inline script or style, so the Content-Security-Policy can forbid
 *    both;
 *  - the access token lives in sessionStorage and travels only in the
 *    Authorization header, never in a URL.
 */

import { render } from './router.js';
import { TOKEN_KEY, setRedraw, startSession } from './session.js';
import { state } from './state.js';

function start() {
	setRedraw(render);
	const saved = sessionStorage.getItem(TOKEN_KEY);
	if (saved && !startSession(saved)) {
		sessionStorage.removeItem(TOKEN_KEY);
		state.loginMessage = { kind: 'info', text: 'Your session expired. Please log in again.' };
	}
	window.addEventListener('hashchange', () => {
		render();
		/* Move focus to the new page unless the page chose a field. */
		const h1 = document.querySelector('main h1');
		if (h1 && (document.activeElement === document.body || !document.activeElement))
			h1.focus({ preventScroll: true });
	});
	render();
}

/* A module runs once the document is parsed: #app exists. */
start();
