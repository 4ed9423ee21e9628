-- Every large object with its comment (owners and grants travel with the privileges step, mapped).
SELECT oid::int8 AS oid, obj_description(oid, 'pg_largeobject') AS comment
  FROM pg_largeobject_metadata
 ORDER BY oid;
