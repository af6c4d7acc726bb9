import { EngineError } from '../errors';
import { MAX_ID } from './raw-idmap';

/** One `/etc/subuid` (or subgid) range: `size` IDs starting at host ID `start`. */
export interface SubidRange {
  start: number;
  size: number;
}

/**
 * The ranges `user` owns in a `/etc/subuid`-style file (`name:start:count`
 * lines, `#` comments), in file order; `[]` when the user has none.
 *
 * Like LXD's `getFromShadow`, except: the user name matches exactly (LXD folds
 * case, shadow's own tools do not), whitespace-only lines are skipped, and a
 * malformed number on the user's line is an error rather than silently
 * skipped. Other users' lines only need the three fields.
 */
export function parseSubidFile(text: string, user: string, fileName = '/etc/subuid'): SubidRange[] {
  const fail = (line: number, reason: string): EngineError =>
    EngineError.invalid(fileName, `line ${line}: ${reason}`);

  const ranges: SubidRange[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = index + 1;
    const [content = ''] = raw.split('#');
    if (content.trim() === '') return;
    const fields = content.trim().split(':');
    const [name = '', startText = '', sizeText = ''] = fields;
    if (fields.length < 3) throw fail(line, `expected "name:start:count", got "${content.trim()}"`);
    if (name !== user) return;

    if (!/^[0-9]+$/.test(startText)) throw fail(line, `invalid start ID "${startText}"`);
    if (!/^[0-9]+$/.test(sizeText)) throw fail(line, `invalid ID count "${sizeText}"`);
    const start = Number(startText);
    const size = Number(sizeText);
    if (start + size - 1 > MAX_ID) {
      throw fail(line, `range ${start}+${size} goes past the largest ID (${MAX_ID})`);
    }
    ranges.push({ start, size });
  });
  return ranges;
}
