/**
 * The reference server's two modes, in one place: `leaky` (both production leaks, every
 * fix off) and `patched` (every fix on). common/fixes.ts maps a mode to its fixes.
 */
import { oneOf } from './validate.js';

export const MODES = ['leaky', 'patched'] as const;

export type Mode = (typeof MODES)[number];

/** A mode given by a user (flag, option, file): "expected leaky or patched, got …". */
export const modeSchema = oneOf(MODES, 'leaky or patched');
