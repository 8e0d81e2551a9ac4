-- One audit log. Recognition wrote its own table (recognition_audit, migration 0040)
-- beside audit_log; its rows move into audit_log, which is append-only (0031), and the
-- old table goes, so there is one place to write and one trail to read. Recognition rows
-- had no role and only ever recorded what was done: role NULL, outcome 'ok'. The old id
-- is kept in the detail for anyone who cited it.
INSERT INTO audit_log (at, actor, role, action, target, outcome, remote, detail)
SELECT at, actor, NULL, action, target, 'ok', remote,
       detail || jsonb_build_object('recognition_audit_id', id)
FROM recognition_audit
ORDER BY at, id;

DROP TABLE recognition_audit;
