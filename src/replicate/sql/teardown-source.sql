-- The DROP TRIGGER statements that remove every capture trigger cutover created (found by name, so this
-- works even when the _cutover schema is already gone). Cloned partition triggers go with their parent.
SELECT format('DROP TRIGGER IF EXISTS %I ON %s', tg.tgname, tg.tgrelid::regclass) AS stmt,
       tg.tgrelid::regclass::text AS rel
  FROM pg_trigger tg
 WHERE tg.tgname IN ('cutover_capture', 'cutover_capture_i', 'cutover_capture_u', 'cutover_capture_d', 'cutover_capture_t')
   AND NOT tg.tgisinternal AND tg.tgparentid = 0
 ORDER BY 2, 1;
