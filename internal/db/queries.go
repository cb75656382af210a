package db

// queries holds every SQL text of one dialect. The texts are written once
// with ? placeholders and rebound for PostgreSQL at initialization; only
// constant texts are ever chosen between at request time.
type queries struct {
	migrationApplied, migrationRecord string

	userInsert, userByID, credsByID, credsByEmailKey     string
	userSetHash, userSetHashRevoke, userReplaceHash      string
	userDisable, userEnable, userSetRoles                string
	userSetVerified, userRevoke                          string
	userList, userCount, userListSearch, userCountSearch string

	auditInsert string
	sessionUser string // see sessionUserQuery
	// auditList is indexed by filter shape: [byUser][byEvent].
	auditList [2][2]string
}

const (
	userCols  = `id, email, display_name, roles, email_verified_at, disabled_at, sessions_valid_after, created_at, updated_at`
	credsCols = userCols + `, password_hash`
	auditCols = `id, at, user_id, actor_id, event, outcome, ip, user_agent, detail`
	// Search matches literally: the app escapes \, % and _ with \.
	searchWhere = ` WHERE email_key LIKE ? ESCAPE '\' OR lower(display_name) LIKE ? ESCAPE '\'`
)

var baseQueries = queries{
	migrationApplied: `SELECT count(*) FROM schema_migrations WHERE version = ?`,
	migrationRecord:  `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,

	userInsert: `INSERT INTO users (email, email_key, display_name, password_hash, roles, email_verified_at, sessions_valid_after, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
	// The hot lookup of every signed-in request also brings the picture id
	// and whether a second factor is on, saving pages and /api/v1/me a query.
	userByID: `SELECT ` + userCols + `, COALESCE((SELECT a.id FROM avatars a WHERE a.user_id = users.id), ''),` +
		` EXISTS (SELECT 1 FROM user_totp t WHERE t.user_id = users.id AND t.enabled_at IS NOT NULL) FROM users WHERE id = ?`,
	credsByID:         `SELECT ` + credsCols + ` FROM users WHERE id = ?`,
	credsByEmailKey:   `SELECT ` + credsCols + ` FROM users WHERE email_key = ?`,
	userSetHash:       `UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?`,
	userSetHashRevoke: `UPDATE users SET password_hash = ?, updated_at = ?, sessions_valid_after = ? WHERE id = ?`,
	userReplaceHash:   `UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ? AND password_hash = ?`,
	userDisable:       `UPDATE users SET disabled_at = COALESCE(disabled_at, ?), sessions_valid_after = ?, updated_at = ? WHERE id = ?`,
	userEnable:        `UPDATE users SET disabled_at = NULL, updated_at = ? WHERE id = ?`,
	userSetRoles:      `UPDATE users SET roles = ?, updated_at = ? WHERE id = ?`,
	userSetVerified:   `UPDATE users SET email_verified_at = ?, updated_at = ? WHERE id = ?`,
	userRevoke:        `UPDATE users SET sessions_valid_after = ?, updated_at = ? WHERE id = ?`,
	userList:          `SELECT ` + userCols + ` FROM users ORDER BY id LIMIT ? OFFSET ?`,
	userCount:         `SELECT count(*) FROM users`,
	userListSearch:    `SELECT ` + userCols + ` FROM users` + searchWhere + ` ORDER BY id LIMIT ? OFFSET ?`,
	userCountSearch:   `SELECT count(*) FROM users` + searchWhere,

	auditInsert: `INSERT INTO audit_events (at, user_id, actor_id, event, outcome, ip, user_agent, detail)
VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
	auditList: [2][2]string{
		{auditListQuery(``), auditListQuery(`event = ? AND `)},
		{auditListQuery(`user_id = ? AND `), auditListQuery(`user_id = ? AND event = ? AND `)},
	},
}

func auditListQuery(where string) string {
	return `SELECT ` + auditCols + ` FROM audit_events WHERE ` + where +
		`at >= ? AND at < ? ORDER BY at DESC, id DESC LIMIT ? OFFSET ?`
}

var (
	sqliteQueries   = withSessionUser(baseQueries, `CAST(s.user_id AS INTEGER)`)
	postgresQueries = rebindAll(withSessionUser(baseQueries,
		// A guarded cast: PostgreSQL fails the query on text that is not a number.
		`CASE WHEN s.user_id ~ '^[0-9]{1,18}$' THEN s.user_id::bigint END`))
)

func withSessionUser(q queries, userID string) *queries {
	q.sessionUser = sessionUserQuery(userID)
	return &q
}

func rebindAll(q *queries) *queries {
	for _, p := range []*string{
		&q.migrationApplied, &q.migrationRecord,
		&q.userInsert, &q.userByID, &q.credsByID, &q.credsByEmailKey,
		&q.userSetHash, &q.userSetHashRevoke, &q.userReplaceHash,
		&q.userDisable, &q.userEnable, &q.userSetRoles, &q.userSetVerified, &q.userRevoke,
		&q.userList, &q.userCount, &q.userListSearch, &q.userCountSearch,
		&q.auditInsert, &q.sessionUser,
		&q.auditList[0][0], &q.auditList[0][1], &q.auditList[1][0], &q.auditList[1][1],
	} {
		*p = rebind(*p)
	}
	return q
}
