-- The source's extensions and their versions (plpgsql is every database's).
SELECT extname::text AS name, extversion::text AS version, false AS trusted_needed
  FROM pg_extension
 WHERE extname <> 'plpgsql'
 ORDER BY 1;
