-- wssgate user store schema for MariaDB (10.5 or later).
--
-- Run by `wssgate db init`, which sends this file as one multi-statement
-- script. Every statement is idempotent, so running it again on an existing
-- store is harmless; a later schema version adds its own guarded statements
-- below and its row in schema_version.
--
-- Names that users and roles are known by use utf8mb4_nopad_bin: bytes
-- compare exactly, so 'alice', 'Alice' and 'alice ' are three different
-- names (utf8mb4_bin would ignore the trailing space).

CREATE TABLE IF NOT EXISTS schema_version (
	version INT NOT NULL PRIMARY KEY,
	applied_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

-- One row per account. password_hash is the argon2id PHC string used for
-- PasswordText and logins; digest_secret is the clear password sealed with
-- AES-256-GCM under the master key (PasswordDigest needs the password
-- itself), NULL for users added with --no-digest. Admins are the members of
-- the configured admin role; there is no admin column.
CREATE TABLE IF NOT EXISTS users (
	id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
	username VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin
		NOT NULL,
	password_hash VARCHAR(255) NOT NULL,
	digest_secret VARBINARY(1024) NULL,
	disabled TINYINT(1) NOT NULL DEFAULT 0,
	created_by VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin
		NULL,
	created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	updated_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
		ON UPDATE CURRENT_TIMESTAMP(6),
	UNIQUE KEY uq_users_username (username)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

CREATE TABLE IF NOT EXISTS roles (
	id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
	name VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin
		NOT NULL,
	created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	UNIQUE KEY uq_roles_name (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

-- Role membership; deleting a user or a role removes its mappings.
CREATE TABLE IF NOT EXISTS user_roles (
	user_id BIGINT UNSIGNED NOT NULL,
	role_id BIGINT UNSIGNED NOT NULL,
	PRIMARY KEY (user_id, role_id),
	KEY idx_user_roles_role (role_id),
	CONSTRAINT fk_user_roles_user FOREIGN KEY (user_id)
		REFERENCES users (id) ON DELETE CASCADE,
	CONSTRAINT fk_user_roles_role FOREIGN KEY (role_id)
		REFERENCES roles (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

-- Shared replay store (security.replay_store = "mariadb"): the key is the
-- hex SHA-256 of the decoded nonce bytes (fixed length for nonces up to the
-- gateway's 256-byte cap), so one INSERT is the atomic check-and-insert
-- across all gateways (src/replay_store.c). expires_at is in seconds since
-- the epoch; expired rows are taken over by a new insert and purged through
-- the index.
CREATE TABLE IF NOT EXISTS replay_nonces (
	nonce VARBINARY(255) NOT NULL PRIMARY KEY,
	expires_at BIGINT NOT NULL,
	KEY idx_replay_nonces_expires (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

-- Management tokens revoked by logout, kept until they would have expired
-- (seconds since the epoch), so every gateway refuses them.
CREATE TABLE IF NOT EXISTS revoked_tokens (
	jti VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
	expires_at BIGINT NOT NULL,
	KEY idx_revoked_tokens_expires (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

INSERT IGNORE INTO schema_version (version) VALUES (1);

-- Version 2: the creator of a user is kept as its account id. The name in
-- created_by stays for the record, but the rule "an admin may be removed
-- only by the admin who created it" follows created_by_id, so an account
-- made later under a deleted creator's name inherits nothing. Deleting the
-- creator clears the id (ON DELETE SET NULL): such admins, like those made
-- by the CLI, can then only be deleted with the offline CLI.
ALTER TABLE users ADD COLUMN IF NOT EXISTS
	created_by_id BIGINT UNSIGNED NULL AFTER created_by;
ALTER TABLE users ADD CONSTRAINT fk_users_created_by
	FOREIGN KEY IF NOT EXISTS (created_by_id)
	REFERENCES users (id) ON DELETE SET NULL;

-- Rows written by version 1 name their creator only. Once, while upgrading
-- (guarded by the version row, so a later run never re-resolves a name), a
-- creator that still exists is taken as that account only when it is older
-- than the user it made (ids only grow): an account re-created under the
-- name after the fact is not the creator. Unresolved rows keep a NULL id.
UPDATE users u JOIN users c ON c.username = u.created_by AND c.id < u.id
	SET u.created_by_id = c.id
	WHERE u.created_by IS NOT NULL AND u.created_by_id IS NULL
	AND NOT EXISTS (SELECT 1 FROM schema_version WHERE version = 2);

INSERT IGNORE INTO schema_version (version) VALUES (2);

-- Version 3: the first-admin bootstrap (management.bootstrap_admin) happens
-- while no admin has EVER existed, not whenever none exists now. The row is
-- written with the first admin (bootstrap, `user add --admin`, `role grant`
-- of the admin role, or `db init` finding an admin); a lost last admin is
-- then recovered with the offline CLI only.
CREATE TABLE IF NOT EXISTS bootstrap (
	id TINYINT UNSIGNED NOT NULL PRIMARY KEY,
	closed_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

INSERT IGNORE INTO schema_version (version) VALUES (3);

-- Version 4: a password change ends the account's earlier management
-- tokens on every gateway. tokens_valid_after is in microseconds since the
-- epoch (the gateway's clock); a token whose iat_us claim is below it is
-- refused, so a token issued in the same second after the change still works.
ALTER TABLE users ADD COLUMN IF NOT EXISTS
	tokens_valid_after BIGINT NOT NULL DEFAULT 0;

INSERT IGNORE INTO schema_version (version) VALUES (4);

-- Version 5: offline unlocks. `wssgate user unlock NAME` stamps the user
-- (microseconds since the epoch, the command's clock); each gateway ends a
-- lock that began before the stamp when it next reads the user's row.
ALTER TABLE users ADD COLUMN IF NOT EXISTS
	unlocked_at BIGINT NOT NULL DEFAULT 0;

INSERT IGNORE INTO schema_version (version) VALUES (5);

-- Version 6: certificates that stand for users (X.509 signatures on routes
-- with auth = "x509" or "wsse_or_x509"). The fingerprint is the lowercase
-- hex SHA-256 of the certificate's DER, unique: one certificate maps to at
-- most one user. subject and issuer are RFC 2253 strings (ASCII, escaped
-- by OpenSSL), serial uppercase hex, not_after seconds since the epoch.
-- created_by names the admin who added it through the API (NULL: the CLI).
-- Deleting the user removes its certificates.
CREATE TABLE IF NOT EXISTS user_certs (
	id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
	user_id BIGINT UNSIGNED NOT NULL,
	fingerprint CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	subject VARCHAR(1024) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	issuer VARCHAR(1024) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	serial VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	not_after BIGINT NOT NULL,
	created_by VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin
		NULL,
	created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
	UNIQUE KEY uq_user_certs_fingerprint (fingerprint),
	KEY idx_user_certs_user (user_id),
	CONSTRAINT fk_user_certs_user FOREIGN KEY (user_id)
		REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

INSERT IGNORE INTO schema_version (version) VALUES (6);

-- Version 7: one guard row that every account change (management API or
-- CLI) writes first. On Galera, SELECT ... FOR UPDATE locks only the local
-- node, so two admins on two nodes could each see "another admin remains"
-- and both remove one (different rows, no certification conflict): zero
-- admins. Writing the same row makes concurrent changes conflict at
-- certification, so one of them fails (1213) and is rolled back whole; on a
-- single server the row lock orders them. last_tx is a random mark of the
-- transaction that wrote it last: read back just before COMMIT, it proves
-- the transaction was not aborted by a replicated change meanwhile
-- (src/accounts.c).
CREATE TABLE IF NOT EXISTS account_guard (
	id TINYINT UNSIGNED NOT NULL PRIMARY KEY,
	changes BIGINT UNSIGNED NOT NULL DEFAULT 0,
	last_tx CHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL
		DEFAULT ''
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

INSERT IGNORE INTO account_guard (id, changes) VALUES (1, 0);

INSERT IGNORE INTO schema_version (version) VALUES (7);

-- Version 8: the shared lockout (security.lockout.store = "mariadb"). One
-- row per user name and plane (0: WS-Security and HTTP Basic, 1: the
-- management API) counts wrong passwords on every gateway of the store;
-- names compare as bytes. Times are milliseconds since the epoch (the
-- gateways' clocks): failures count from window_start for the window, a
-- lock holds until locked_until. last_result is what the last failure did
-- (1 counted, 2 started the lock, 3 came while locked), which the one
-- counting statement also reports back (src/lockout_store.c). Rows exist
-- only for names that failed, one per plane; an unlock deletes them.
CREATE TABLE IF NOT EXISTS lockouts (
	username VARBINARY(256) NOT NULL,
	plane TINYINT UNSIGNED NOT NULL,
	window_start BIGINT NOT NULL,
	failures INT UNSIGNED NOT NULL DEFAULT 0,
	locked_until BIGINT NOT NULL DEFAULT 0,
	last_result TINYINT UNSIGNED NOT NULL DEFAULT 0,
	PRIMARY KEY (username, plane)
) ENGINE=InnoDB;

INSERT IGNORE INTO schema_version (version) VALUES (8);
