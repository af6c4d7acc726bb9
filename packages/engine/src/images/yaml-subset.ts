// A small YAML subset, enough for LXD's image `metadata.yaml` (written by
// LXD, distrobuilder and hand-made images): block mappings and sequences,
// plain / single-quoted / double-quoted scalars, `|` and `>` block scalars,
// comments, and simple flow collections (`[]`, `{}`, `[a, b]`). Scalars stay
// strings; the caller converts what it needs. We add no YAML dependency for
// one small file format.
import { EngineError } from '../errors.ts';

export type YamlValue = string | null | YamlValue[] | { [key: string]: YamlValue };

interface Line {
  indent: number;
  text: string;
  /** 1-based, for messages. */
  number: number;
}

function fail(line: number, reason: string): EngineError {
  return EngineError.invalid('metadata.yaml', `line ${line}: ${reason}`);
}

/** Strips a trailing comment that is not inside quotes. */
function stripComment(text: string): string {
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'") {
      if (i === 0 || /[\s:[{,-]/.test(text[i - 1] ?? '')) quote = c;
    } else if (c === '#' && (i === 0 || /\s/.test(text[i - 1] ?? ''))) {
      return text.slice(0, i).trimEnd();
    }
  }
  return text.trimEnd();
}

function toLines(source: string): { lines: Line[]; raw: string[] } {
  const raw = source.replace(/\r\n?/g, '\n').split('\n');
  const lines: Line[] = [];
  raw.forEach((full, index) => {
    const indentMatch = /^[ \t]*/.exec(full)?.[0] ?? '';
    if (indentMatch.includes('\t') && full.trim() !== '')
      throw fail(index + 1, 'tabs are not allowed for indentation');
    const text = stripComment(full.slice(indentMatch.length));
    if (text === '' || text === '---' || text === '...') return;
    lines.push({ indent: indentMatch.length, text, number: index + 1 });
  });
  return { lines, raw };
}

function parseDoubleQuoted(body: string, line: number): string {
  try {
    // JSON's escapes are a subset of YAML's double-quoted ones; map the few extra.
    return JSON.parse(
      `"${body
        .replace(/\\x([0-9a-fA-F]{2})/g, '\\u00$1')
        .replace(/\\'/g, "'")
        .replace(/\t/g, '\\t')}"`,
    ) as string;
  } catch {
    throw fail(line, `bad double-quoted string "${body}"`);
  }
}

/** A flow or inline scalar: `"a"`, `'a'`, `plain words`, `[a, b]`, `{a: b}`. */
function parseInline(text: string, line: number): YamlValue {
  const t = text.trim();
  if (t.startsWith('"')) {
    if (!t.endsWith('"') || t.length < 2) throw fail(line, `unterminated string ${t}`);
    return parseDoubleQuoted(t.slice(1, -1), line);
  }
  if (t.startsWith("'")) {
    if (!t.endsWith("'") || t.length < 2) throw fail(line, `unterminated string ${t}`);
    return t.slice(1, -1).replace(/''/g, "'");
  }
  if (t.startsWith('[')) {
    if (!t.endsWith(']')) throw fail(line, `unterminated flow sequence ${t}`);
    const inner = t.slice(1, -1).trim();
    return inner === '' ? [] : splitFlow(inner).map((item) => parseInline(item, line));
  }
  if (t.startsWith('{')) {
    if (!t.endsWith('}')) throw fail(line, `unterminated flow mapping ${t}`);
    const inner = t.slice(1, -1).trim();
    const out: Record<string, YamlValue> = {};
    if (inner === '') return out;
    for (const pair of splitFlow(inner)) {
      const split = splitKey(pair, line);
      if (!split) throw fail(line, `expected "key: value" in ${t}`);
      out[split.key] = split.rest === '' ? null : parseInline(split.rest, line);
    }
    return out;
  }
  if (t === '~' || t === 'null' || t === '') return null;
  return t;
}

/** Splits `a, "b, c", d` at top-level commas. */
function splitFlow(inner: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote: string | null = null;
  let start = 0;
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i];
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '[' || c === '{') depth++;
    else if (c === ']' || c === '}') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(inner.slice(start, i).trim());
      start = i + 1;
    }
  }
  parts.push(inner.slice(start).trim());
  return parts.filter((p) => p !== '');
}

/** `key: rest` (key plain or quoted). Null when the text is not a mapping entry. */
function splitKey(text: string, line: number): { key: string; rest: string } | null {
  if (text.startsWith('"') || text.startsWith("'")) {
    const q = text[0] as string;
    let i = 1;
    for (; i < text.length; i++) {
      if (text[i] === '\\' && q === '"') i++;
      else if (text[i] === q) {
        if (q === "'" && text[i + 1] === "'") i++;
        else break;
      }
    }
    const after = text.slice(i + 1);
    if (!/^\s*:(\s|$)/.test(after)) return null;
    const key = parseInline(text.slice(0, i + 1), line) as string;
    return { key, rest: after.replace(/^\s*:/, '').trim() };
  }
  const match = /^([^\s:[\]{},#][^:#]*?|[^\s:[\]{},#]):(?:\s+(.*))?$/.exec(text);
  if (!match) return null;
  return { key: (match[1] ?? '').trim(), rest: (match[2] ?? '').trim() };
}

class Reader {
  #i = 0;
  constructor(
    private readonly lines: Line[],
    private readonly raw: string[],
  ) {}

  get done(): boolean {
    return this.#i >= this.lines.length;
  }

  peek(): Line | undefined {
    return this.lines[this.#i];
  }

  parseDocument(): YamlValue {
    const first = this.peek();
    if (!first) return null;
    const value = this.parseBlock(first.indent);
    const extra = this.peek();
    if (extra) throw fail(extra.number, `unexpected content "${extra.text}"`);
    return value;
  }

  parseBlock(indent: number): YamlValue {
    const first = this.peek();
    if (!first) return null;
    if (isSequenceItem(first.text)) return this.parseSequence(indent);
    if (splitKey(first.text, first.number)) return this.parseMapping(indent);
    this.#i++;
    return parseInline(first.text, first.number);
  }

  parseSequence(indent: number): YamlValue[] {
    const out: YamlValue[] = [];
    for (
      let line = this.peek();
      line && line.indent === indent && isSequenceItem(line.text);
      line = this.peek()
    ) {
      const rest = line.text === '-' ? '' : line.text.slice(2).trim();
      if (rest === '') {
        this.#i++;
        const next = this.peek();
        out.push(next && next.indent > indent ? this.parseBlock(next.indent) : null);
      } else if (isSequenceItem(rest) || splitKey(rest, line.number)) {
        // `- key: value` opens a mapping whose keys sit two columns in.
        const inner = indent + (line.text.length - line.text.slice(1).trimStart().length);
        this.lines[this.#i] = { indent: inner, text: rest, number: line.number };
        out.push(this.parseBlock(inner));
      } else {
        this.#i++;
        out.push(this.scalarOrBlock(rest, indent, line));
      }
    }
    const stray = this.peek();
    if (stray && stray.indent > indent) throw fail(stray.number, 'bad indentation');
    return out;
  }

  parseMapping(indent: number): Record<string, YamlValue> {
    const out: Record<string, YamlValue> = {};
    for (let line = this.peek(); line && line.indent === indent; line = this.peek()) {
      const split = splitKey(line.text, line.number);
      if (!split) throw fail(line.number, `expected "key: value", got "${line.text}"`);
      if (Object.hasOwn(out, split.key)) throw fail(line.number, `duplicate key "${split.key}"`);
      this.#i++;
      if (split.rest === '') {
        const next = this.peek();
        if (next && next.indent > indent) out[split.key] = this.parseBlock(next.indent);
        else if (next && next.indent === indent && isSequenceItem(next.text))
          out[split.key] = this.parseSequence(indent);
        else out[split.key] = null;
      } else {
        out[split.key] = this.scalarOrBlock(split.rest, indent, line);
      }
    }
    const stray = this.peek();
    if (stray && stray.indent > indent) throw fail(stray.number, 'bad indentation');
    return out;
  }

  /** An inline value, or a `|` / `>` block scalar whose lines follow. */
  scalarOrBlock(rest: string, indent: number, line: Line): YamlValue {
    const block = /^([|>])([+-]?)$/.exec(rest);
    if (!block) return parseInline(rest, line.number);
    // Block scalars keep their raw lines (comments included), so read `raw`.
    const body: string[] = [];
    let bodyIndent = -1;
    while (!this.done) {
      const next = this.peek() as Line;
      if (next.indent <= indent) break;
      this.#i++;
    }
    const lastNumber =
      this.#i < this.lines.length ? (this.lines[this.#i] as Line).number - 1 : this.raw.length;
    for (let n = line.number; n < lastNumber; n++) {
      const text = this.raw[n] ?? '';
      if (text.trim() === '') {
        body.push('');
        continue;
      }
      const ind = text.length - text.trimStart().length;
      if (ind <= indent) break;
      if (bodyIndent < 0) bodyIndent = ind;
      body.push(text.slice(Math.min(ind, bodyIndent)));
    }
    while (body.length && body[body.length - 1] === '') body.pop();
    const joined =
      block[1] === '|' ? body.join('\n') : body.join('\n').replace(/([^\n])\n(?=[^\n])/g, '$1 ');
    return block[2] === '-' ? joined : `${joined}\n`;
  }
}

function isSequenceItem(text: string): boolean {
  return text === '-' || text.startsWith('- ');
}

export function parseYaml(source: string): YamlValue {
  const { lines, raw } = toLines(source);
  return new Reader(lines, raw).parseDocument();
}

// ------------------------------------------------------------------ writing

export type YamlWritable =
  string | number | boolean | null | undefined | YamlWritable[] | { [key: string]: YamlWritable };

const reserved = /^(?:true|false|yes|no|on|off|null|~|y|n)$/i;

function formatScalar(value: string | number | boolean | null): string {
  if (value === null) return 'null';
  if (typeof value !== 'string') return String(value);
  if (/^[A-Za-z_/][A-Za-z0-9_./+-]*$/.test(value) && !reserved.test(value)) return value;
  return JSON.stringify(value);
}

function formatKey(key: string): string {
  return /^[A-Za-z0-9_./+-]+$/.test(key) && !reserved.test(key) ? key : JSON.stringify(key);
}

function writeValue(value: YamlWritable, indent: string, out: string[], prefix: string): void {
  if (Array.isArray(value)) {
    if (value.length === 0) {
      out.push(`${prefix} []`);
      return;
    }
    out.push(prefix);
    for (const item of value) {
      if (item === undefined) continue;
      if (Array.isArray(item) || (item !== null && typeof item === 'object')) {
        writeValue(item, `${indent}  `, out, `${indent}-`);
      } else {
        out.push(`${indent}- ${formatScalar(item)}`);
      }
    }
    return;
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    if (entries.length === 0) {
      out.push(`${prefix} {}`);
      return;
    }
    if (prefix !== '') out.push(prefix);
    for (const [key, v] of entries)
      writeValue(v, `${indent}  `, out, `${indent}${formatKey(key)}:`);
    return;
  }
  out.push(`${prefix} ${formatScalar(value ?? null)}`);
}

/** Writes a mapping as block YAML that `parseYaml` (and any YAML reader) reads back. */
export function writeYaml(value: { [key: string]: YamlWritable }): string {
  const out: string[] = [];
  for (const [key, v] of Object.entries(value)) {
    if (v !== undefined) writeValue(v, '  ', out, `${formatKey(key)}:`);
  }
  return `${out.join('\n')}\n`;
}
