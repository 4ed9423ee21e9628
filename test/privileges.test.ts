/** The role rewriting of pg_dump's owner and grant statements: tokens, not text search (no server needed). */
import { describe, expect, it } from 'vitest';
import { privilegeStatements, rewriteStatement } from '../src/dump/privileges.js';
import { parseRoleMapArgs } from '../src/pg/role-map.js';

const SCRIPT = `
-- Name: f; Type: FUNCTION; Schema: app; Owner: u4f8a
CREATE FUNCTION app.f() RETURNS text LANGUAGE sql AS $_$ SELECT 'ALTER TABLE x OWNER TO u4f8a; GRANT ALL ON TABLE y TO u4f8a;' $_$;
ALTER FUNCTION app.f() OWNER TO u4f8a;
COMMENT ON TABLE app.t IS 'GRANT SELECT ON TABLE app.t TO u4f8a;';
ALTER TABLE app."line
break; TO u4f8a" OWNER TO "Old ""Owner"" Role";
GRANT SELECT,INSERT ON TABLE app."to" TO u4f8a, PUBLIC, "Old ""Owner"" Role" WITH GRANT OPTION;
GRANT SELECT("to"),UPDATE("to") ON TABLE app.t TO reporter;
REVOKE ALL ON FUNCTION app.f() FROM PUBLIC;
REVOKE ALL ON FUNCTION app.f() FROM u4f8a;
ALTER DEFAULT PRIVILEGES FOR ROLE u4f8a IN SCHEMA app GRANT SELECT ON TABLES TO reporter;
SET SESSION AUTHORIZATION reporter;
GRANT SELECT ON TABLE app.t TO other;
RESET SESSION AUTHORIZATION;
`;

describe('privilege statements', () => {
  const { statements, sessionAuthorizations } = privilegeStatements(SCRIPT);
  const map = parseRoleMapArgs(['u4f8a=app', 'Old "Owner" Role=new owner']);

  it('finds owners, grants and default privileges; ignores function bodies, comments and strings', () => {
    expect(statements.map((s) => [s.kind, s.object, s.roles])).toEqual([
      ['owner', 'FUNCTION app.f()', ['u4f8a']],
      ['owner', 'TABLE app."line\nbreak; TO u4f8a"', ['Old "Owner" Role']],
      ['acl', 'TABLE app."to"', ['u4f8a', 'Old "Owner" Role']],
      ['acl', 'TABLE app.t', ['reporter']],
      ['acl', 'FUNCTION app.f()', []],
      ['acl', 'FUNCTION app.f()', ['u4f8a']],
      ['default-acl', 'default privileges of u4f8a IN SCHEMA app on TABLES', ['u4f8a', 'reporter']],
      ['acl', 'TABLE app.t', ['other']],
    ]);
    expect(sessionAuthorizations).toBe(1);
    // The grant pg_dump wrote under SET SESSION AUTHORIZATION is attributed to that grantor, no other.
    expect(statements.map((s) => s.grantor)).toEqual([undefined, undefined, undefined, undefined, undefined, undefined, undefined, 'reporter']);
    expect(privilegeStatements(`SET SESSION AUTHORIZATION "Old ""Owner"" Role";\nGRANT SELECT ON TABLE a.b TO x;\nSET SESSION AUTHORIZATION DEFAULT;\nGRANT SELECT ON TABLE a.c TO y;`).statements.map((s) => s.grantor))
      .toEqual(['Old "Owner" Role', undefined]);
  });

  it('rewrites only role tokens, quoted, keeping PUBLIC and options', () => {
    const out = statements.map((s) => rewriteStatement(s, map));
    expect(out[0]).toBe('ALTER FUNCTION app.f() OWNER TO "app";');
    expect(out[1]).toBe('ALTER TABLE app."line\nbreak; TO u4f8a" OWNER TO "new owner";');
    expect(out[2]).toBe('GRANT SELECT,INSERT ON TABLE app."to" TO "app", PUBLIC, "new owner" WITH GRANT OPTION;');
    expect(out[3]).toBe('GRANT SELECT("to"),UPDATE("to") ON TABLE app.t TO "reporter";');
    expect(out[4]).toBe('REVOKE ALL ON FUNCTION app.f() FROM PUBLIC;');
    expect(out[6]).toBe('ALTER DEFAULT PRIVILEGES FOR ROLE "app" IN SCHEMA app GRANT SELECT ON TABLES TO "reporter";');
  });

  it('drops a role: its grantee entries go, statements about nothing but it are skipped', () => {
    const drop = new Set(['u4f8a', 'reporter']);
    const out = statements.map((s) => rewriteStatement(s, map, drop));
    expect(out[0]).toBeUndefined(); // its ownership: the object stays with the target role
    expect(out[2]).toBe('GRANT SELECT,INSERT ON TABLE app."to" TO PUBLIC, "new owner" WITH GRANT OPTION;');
    expect(out[3]).toBeUndefined();
    expect(out[4]).toBe('REVOKE ALL ON FUNCTION app.f() FROM PUBLIC;');
    expect(out[5]).toBeUndefined();
    expect(out[6]).toBeUndefined();
  });
});
