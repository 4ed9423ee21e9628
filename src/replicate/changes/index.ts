/**
 * The change source replication uses. Today there is one (trigger capture); a second one (logical
 * decoding) is chosen here, from what capture recorded on the source.
 */
import { triggerSource } from './trigger-source.js';
import type { ChangeSource } from './change-source.js';

export type { Backlog, CaptureSummary, CapturedTable, ChangeBatch, ChangedTable, ChangeSource, NewTables, Position, StartPoint } from './change-source.js';

export const changeSource: ChangeSource = triggerSource;
