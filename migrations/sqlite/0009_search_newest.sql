-- Nothing on SQLite: its search walks the FTS5 indexes newest first already (see
-- store::search). PostgreSQL gains a newest-first index here.
SELECT 1;
