-- The sample application's roles (cluster-wide, so created only if missing: several sample databases and
-- the targets they are copied to share them). NOLOGIN: a test gives one a password when it logs in.
-- sample_readers is a group role; sample_reader reads through it; sample_auditor has column grants only.
DO $$
DECLARE r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['sample_readers', 'sample_reader', 'sample_app', 'sample_auditor', 'app_writer'] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
      EXECUTE format('CREATE ROLE %I NOLOGIN', r);
    END IF;
  END LOOP;
  IF NOT EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member
                  WHERE g.rolname = 'sample_readers' AND u.rolname = 'sample_reader') THEN
    GRANT sample_readers TO sample_reader;
  END IF;
END $$;
