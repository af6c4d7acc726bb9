// Splits an image template into text, `{{ … }}` and `{% … %}` chunks, and
// the inside of each into tokens, as pongo2's lexer does: `{# … #}` comments
// (one line), `{{-`/`{%-` trim the whitespace before, `-}}`/`-%}` the
// whitespace after, no newline inside a tag, strings in "…" or '…' with
// only \" and \\ escapes, integers (a float is `1 . 5` put together by the
// parser, as pongo2 does).
import { TemplateSyntaxError } from './template-error.ts';

export type TokenKind = 'name' | 'keyword' | 'string' | 'number' | 'symbol';

export interface Token {
  kind: TokenKind;
  value: string;
  line: number;
}

export type Chunk =
  | { kind: 'text'; value: string; line: number }
  | { kind: 'output' | 'tag'; tokens: Token[]; line: number };

const KEYWORDS = new Set(['in', 'and', 'or', 'not', 'true', 'false', 'as', 'export']);
// Longest first, as pongo2 matches them.
const SYMBOLS = [
  '==',
  '>=',
  '<=',
  '&&',
  '||',
  '!=',
  '<>',
  '(',
  ')',
  '+',
  '-',
  '*',
  '<',
  '>',
  '/',
  '^',
  ',',
  '.',
  '!',
  '|',
  ':',
  '=',
  '%',
];
const SPACE = ' \t\r\n';
const isSpace = (c: string) => SPACE.includes(c);
const isNameStart = (c: string) => /[A-Za-z_]/.test(c);
const isNameChar = (c: string) => /[A-Za-z0-9_]/.test(c);
const isDigit = (c: string) => c >= '0' && c <= '9';

function trimStart(s: string): string {
  let i = 0;
  while (i < s.length && isSpace(s[i] as string)) i++;
  return s.slice(i);
}

function trimEnd(s: string): string {
  let i = s.length;
  while (i > 0 && isSpace(s[i - 1] as string)) i--;
  return s.slice(0, i);
}

/** The chunks of `source`; TemplateSyntaxError with the line for what pongo2's lexer refuses. */
export function lexTemplate(source: string): Chunk[] {
  const chunks: Chunk[] = [];
  let pos = 0;
  let line = 1;
  let trimNextText = false;
  const pushText = (value: string, at: number) => {
    const text = trimNextText ? trimStart(value) : value;
    trimNextText = false;
    if (text !== '') chunks.push({ kind: 'text', value: text, line: at });
  };
  const countLines = (s: string) => {
    for (const c of s) if (c === '\n') line++;
  };

  while (pos < source.length) {
    const open = nextOpening(source, pos);
    if (open === -1) {
      pushText(source.slice(pos), line);
      break;
    }
    const textLine = line;
    const text = source.slice(pos, open);
    countLines(text);
    const marker = source.slice(open, open + 2);
    if (marker === '{#') {
      const end = source.indexOf('#}', open + 2);
      const newline = source.indexOf('\n', open + 2);
      if (end === -1 && newline === -1)
        throw new TemplateSyntaxError(line, 'a {# comment #} is not closed');
      if (end === -1 || (newline !== -1 && newline < end))
        throw new TemplateSyntaxError(line, 'a {# comment #} must be on one line');
      pushText(text, textLine);
      pos = end + 2;
      continue;
    }
    // `{{-` / `{%-`: the text before loses its trailing whitespace.
    const trimBefore = source[open + 2] === '-';
    pushText(trimBefore ? trimEnd(text) : text, textLine);
    const close = marker === '{{' ? '}}' : '%}';
    const { tokens, end, trimAfter } = lexInside(source, open + (trimBefore ? 3 : 2), close, line);
    chunks.push({ kind: marker === '{{' ? 'output' : 'tag', tokens, line });
    trimNextText = trimAfter;
    pos = end;
  }
  return chunks;
}

function nextOpening(source: string, from: number): number {
  for (let i = source.indexOf('{', from); i !== -1; i = source.indexOf('{', i + 1)) {
    const c = source[i + 1];
    if (c === '{' || c === '%' || c === '#') return i;
  }
  return -1;
}

function lexInside(
  source: string,
  start: number,
  close: '}}' | '%}',
  line: number,
): { tokens: Token[]; end: number; trimAfter: boolean } {
  const tokens: Token[] = [];
  let pos = start;
  const what = close === '}}' ? '{{ … }}' : '{% … %}';
  for (;;) {
    const c = source[pos];
    if (c === undefined) throw new TemplateSyntaxError(line, `${what} is not closed`);
    if (c === '\n') throw new TemplateSyntaxError(line, `a newline is not allowed inside ${what}`);
    if (isSpace(c)) {
      pos++;
      continue;
    }
    if (source.startsWith(`-${close}`, pos)) return { tokens, end: pos + 3, trimAfter: true };
    if (source.startsWith(close, pos)) return { tokens, end: pos + 2, trimAfter: false };
    if (isNameStart(c)) {
      let end = pos + 1;
      while (end < source.length && isNameChar(source[end] as string)) end++;
      const value = source.slice(pos, end);
      tokens.push({ kind: KEYWORDS.has(value) ? 'keyword' : 'name', value, line });
      pos = end;
      continue;
    }
    if (isDigit(c)) {
      let end = pos + 1;
      while (end < source.length && isDigit(source[end] as string)) end++;
      // `1abc` is a name in pongo2 (its issue 151).
      if (end < source.length && isNameChar(source[end] as string)) {
        while (end < source.length && isNameChar(source[end] as string)) end++;
        const value = source.slice(pos, end);
        tokens.push({ kind: 'name', value, line });
      } else tokens.push({ kind: 'number', value: source.slice(pos, end), line });
      pos = end;
      continue;
    }
    if (c === '"' || c === "'") {
      let value = '';
      let end = pos + 1;
      for (;;) {
        const d = source[end];
        if (d === undefined) throw new TemplateSyntaxError(line, 'a string is not closed');
        if (d === '\n') throw new TemplateSyntaxError(line, 'a newline is not allowed in a string');
        if (d === c) break;
        if (d === '\\') {
          const e = source[end + 1];
          if (e !== '"' && e !== '\\')
            throw new TemplateSyntaxError(line, `unknown escape sequence \\${e ?? ''} in a string`);
          value += e;
          end += 2;
          continue;
        }
        value += d;
        end++;
      }
      tokens.push({ kind: 'string', value, line });
      pos = end + 1;
      continue;
    }
    const symbol = SYMBOLS.find((s) => source.startsWith(s, pos));
    if (!symbol) throw new TemplateSyntaxError(line, `unexpected character "${c}" in ${what}`);
    tokens.push({ kind: 'symbol', value: symbol, line });
    pos += symbol.length;
  }
}
