/**
 * The copy journal bound to its databases: it records the source and target (and the session tag of the
 * process) in 'binding' entries. A resume against any other database is refused before anything is
 * touched; a resume after a killed copy first ends the sessions that copy left running (an index build
 * still going on the target would collide with the one the resume starts).
 */
import { CutoverError } from '../../errors.js';
import { readBindings, refuseOtherDatabases } from '../../pg/bound-state.js';
import { endSessionsOfTag } from '../../pg/own-sessions.js';
import { sessionTag } from '../../pg/session-tag.js';
import type { CopyBinding, Journal } from './journal.js';
import type { Endpoint } from '../../pg/endpoint.js';

/** Checks the journal against the databases given now; returns the binding this process will record. */
export async function checkCopyBinding(journal: Journal, source: Endpoint, target: Endpoint, note: (m: string) => void): Promise<CopyBinding> {
  const now: CopyBinding = { ...(await readBindings(source, target)), tag: sessionTag() };
  if (journal.isEmpty) return now;
  const was = journal.binding;
  if (!was) {
    throw new CutoverError('E_USAGE', `${journal.file} does not record which databases it describes (written by an older cutover): it cannot be resumed safely`, {
      hint: 'start over: remove that directory and empty the target; nothing was changed',
    });
  }
  refuseOtherDatabases(was, now, `the copy journal ${journal.file}`,
    'resume with the --source and --target of that copy; to copy into this target, use another --dir (the default depends on the connections) and an empty database');
  if (was.tag && was.tag !== now.tag) {
    await endSessionsOfTag(was.tag, [{ side: 'source', params: source }, { side: 'target', params: target }], 'the interrupted copy', note);
  }
  return now;
}

export async function recordCopyBinding(journal: Journal, b: CopyBinding): Promise<void> {
  const last = journal.binding;
  if (last && last.tag === b.tag && JSON.stringify(last) === JSON.stringify(b)) return;
  await journal.record({ kind: 'binding', key: '', detail: JSON.stringify(b) });
}
