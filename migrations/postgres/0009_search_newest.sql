-- Search pages newest first. For a common word, walking this index and keeping the
-- rows that match finds a page in a few rows; the word index would return (and the
-- query sort) every match. The planner chooses from the word index's statistics.
CREATE INDEX message_search_newest ON message_search (created_at DESC, message_id DESC);
