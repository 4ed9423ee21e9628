-- Foreign keys a resumed copy could not validate (and those the applier moved out of its way, fk-moves.sql): it read its tables at two moments while the
-- application wrote, so a row may reference one that reached the target in a later table or batch. They
-- hold again once the applier has caught up; replicate-cutover completes them after the drain
-- ('validate': added NOT VALID; 'add': on a partitioned table, which cannot take NOT VALID before 18).
CREATE SCHEMA IF NOT EXISTS _cutover;
REVOKE ALL ON SCHEMA _cutover FROM PUBLIC;
CREATE TABLE IF NOT EXISTS _cutover.deferred_constraints (
  table_name text NOT NULL,      -- schema-qualified, quoted (regclass text)
  constraint_name text NOT NULL,
  definition text NOT NULL,      -- pg_get_constraintdef on the source
  action text NOT NULL,
  PRIMARY KEY (table_name, constraint_name)
);
-- The applier's moved foreign keys (fk-moves.sql) share this record: 'readd', 'nondeferrable'.
ALTER TABLE _cutover.deferred_constraints DROP CONSTRAINT IF EXISTS deferred_constraints_action_check;
ALTER TABLE _cutover.deferred_constraints ADD CONSTRAINT deferred_constraints_action_check CHECK (action IN ('validate', 'add', 'readd', 'nondeferrable'));
