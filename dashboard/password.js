/* The Change password page: PATCH /users/{me} with the current password. */

import { api } from './api.js';
import { clearMessage, h, showMessage } from './dom.js';
import { busy, clearOnInput, field, flashBox, markInvalid, pageHead } from './layout.js';
import { endSession, me } from './session.js';

export function viewPassword(main) {
	const msg = flashBox();
	const old = h('input', { type: 'password', name: 'oldPassword', autocomplete: 'current-password', required: true });
	const pw = h('input', { type: 'password', name: 'newPassword', autocomplete: 'new-password', required: true });
	const pw2 = h('input', { type: 'password', name: 'confirmPassword', autocomplete: 'new-password', required: true });
	const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'password-submit' }, 'Change password');
	const form = clearOnInput(h('form', { class: 'form', novalidate: true, id: 'password-form' },
		field('pw-old', 'Current password', old),
		field('pw-new', 'New password', pw),
		field('pw-repeat', 'Repeat new password', pw2),
		h('div', { class: 'form-actions' }, submit)));
	main.append(pageHead('Change password', 'Change the password of ' + me() + '.'),
		h('div', { class: 'panel' }, msg, form));
	old.focus();
	form.addEventListener('submit', async (ev) => {
		ev.preventDefault();
		clearMessage(msg);
		const problems = {};
		if (!old.value)
			problems['pw-old'] = 'Enter your current password.';
		if (!pw.value)
			problems['pw-new'] = 'New password is missing.';
		if (pw.value && pw2.value !== pw.value)
			problems['pw-repeat'] = 'Repeat password must match the new password.';
		if (!markInvalid(form, problems))
			return;
		busy(submit, true);
		try {
			await api('PATCH', '/users/' + encodeURIComponent(me()), {
				body: { oldPassword: old.value, newPassword: pw.value, confirmPassword: pw2.value },
			});
			/* The change ended every token of this user, this one too. */
			endSession({ kind: 'ok', text: 'Your password was changed. Please log in with the new password.' });
		} catch (e) {
			if (e.status !== 401)
				showMessage(msg, 'err', e.message);
		} finally {
			busy(submit, false);
		}
	});
}
