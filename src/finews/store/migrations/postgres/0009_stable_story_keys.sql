-- finews schema, version 9 (PostgreSQL): story keys defined by finews.
-- Keep in step with sqlite/0009_stable_story_keys.sql.

-- Candidate keys are now finews.process.cluster.stable_key (plain 64-bit arithmetic)
-- instead of Python's hash() of tuples, so the keys stored before (and the fingerprints
-- holding them, print format 1) no longer find anything. Both tables are a cache: the
-- next write fingerprints the items of its window from their rows and stores them again.
-- The stories themselves stand (the rule is unchanged; only how candidates are found).
DELETE FROM story_keys;
DELETE FROM story_prints;
