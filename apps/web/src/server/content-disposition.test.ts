import { describe, expect, it } from 'vitest';
import { attachment } from './content-disposition.ts';

/** What a client reading RFC 6266 gets back: `filename*` decoded. */
function extendedName(header: string): string {
  const match = /filename\*=UTF-8''([^;]*)$/.exec(header);
  if (!match?.[1]) throw new Error(`no filename* in ${header}`);
  return decodeURIComponent(match[1]);
}

describe('attachment', () => {
  it.each([
    ['b"q.tar.gz', 'b_q.tar.gz'],
    ['sauvegarde-été.tar.gz', 'sauvegarde-_t_.tar.gz'],
    ['备份.tar.gz', '__.tar.gz'],
    ["it's (1)*.tar.gz", "it's (1)*.tar.gz"],
    ['back\\slash\r\nX-Evil: 1', 'back_slash__X-Evil: 1'],
  ])('%j keeps its name in filename* and a safe ASCII fallback', (name, fallback) => {
    const header = attachment(name);
    expect(header).toBe(
      `attachment; filename="${fallback}"; filename*=UTF-8''${header.split("''")[1]}`,
    );
    expect(extendedName(header)).toBe(name);
    // Only printable ASCII: a valid header value, nothing that starts another header.
    expect(header).toMatch(/^[\x20-\x7e]*$/);
    // The extended value holds only RFC 5987 attr-chars and %-escapes.
    expect(header.split("''")[1]).toMatch(/^[A-Za-z0-9!#$&+\-.^_`|~%]*$/);
  });
});
