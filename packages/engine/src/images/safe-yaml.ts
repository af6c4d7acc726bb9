// YAML from outside (an image's metadata.yaml, a backup's index.yaml) read
// with the `yaml` library under limits for untrusted input: a size cap on
// the text, bounded nesting, one document, unique keys, no tags beyond
// `!!str`/`!!map`/`!!seq` (so no `!!binary` or custom types), scalar keys, and a small alias budget
// (the library refuses alias-expansion bombs). Scalars stay strings, as Go's
// yaml reads them into LXD's string fields (`release: 1.10` is "1.10", not
// 1.1); a plain `~`, `null` or empty value is null. The caller converts.
import { isScalar, parseDocument, stringify, visit, type YAMLError } from 'yaml';
import { EngineError } from '../errors.ts';

export type YamlValue = string | null | YamlValue[] | { [key: string]: YamlValue };

export type YamlWritable =
  string | number | boolean | null | undefined | YamlWritable[] | { [key: string]: YamlWritable };

/** What the archive readers capture of a file (tar-scanner.ts). */
export const MAX_YAML_BYTES = 1024 * 1024;
/** LXD's files use no aliases; a few are fine, a bomb is not. */
export const MAX_YAML_ALIASES = 32;
/** Flow brackets or compact `- - -` deeper than this are refused before parsing. */
export const MAX_YAML_NESTING = 64;

export interface ParseYamlOptions {
  /** Names the file in errors, e.g. `metadata.yaml`. */
  file: string;
  maxBytes?: number;
  maxAliasCount?: number;
}

const PLAIN_NULL = /^(?:~|null|Null|NULL|)$/;
/** The failsafe schema's own tags change nothing; any other tag is refused. */
const PLAIN_TAGS = new Set([
  'tag:yaml.org,2002:str',
  'tag:yaml.org,2002:map',
  'tag:yaml.org,2002:seq',
]);

/** `line 2: Tabs are not allowed as indentation`, from the library's pretty message. */
function reasonOf(error: YAMLError | Error): string {
  const first = (error.message.split('\n')[0] ?? '').replace(/:$/, '');
  const at = / at line (\d+), column \d+$/.exec(first);
  return at ? `line ${at[1]}: ${first.slice(0, at.index)}` : first;
}

/**
 * The deepest flow nesting (`[[[…`, `{a: {b: …`) or run of compact block
 * indicators on one line (`- - - x`), ignoring quoted text and comments.
 * The parser recurses on both and takes seconds to fail on a deep one.
 * Approximate on purpose (a `[` in a plain scalar counts): it only bounds.
 */
export function yamlNesting(text: string): number {
  let deepest = 0;
  let flow = 0;
  let quote: '"' | "'" | null = null;
  let lineStart = true;
  let indicators = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = null;
      continue;
    }
    if (c === '\n') {
      lineStart = true;
      indicators = 0;
      continue;
    }
    const prev = i === 0 ? '\n' : text[i - 1];
    if (lineStart) {
      if (c === ' ') continue;
      if ((c === '-' || c === '?') && (text[i + 1] === ' ' || text[i + 1] === '\n')) {
        indicators++;
        deepest = Math.max(deepest, indicators);
        continue;
      }
      lineStart = false;
    }
    if (c === '#' && (prev === ' ' || prev === '\t' || prev === '\n')) {
      const end = text.indexOf('\n', i);
      if (end < 0) break;
      i = end - 1;
    } else if ((c === '"' || c === "'") && /[\s[{,:-]/.test(prev ?? '\n')) {
      quote = c;
    } else if (c === '[' || c === '{') {
      flow++;
      deepest = Math.max(deepest, flow);
    } else if ((c === ']' || c === '}') && flow > 0) {
      flow--;
    }
  }
  return deepest;
}

/** Parses one YAML document; throws INVALID_ARGUMENT naming the file and, from the parser, the line. */
export function parseYaml(text: string, options: ParseYamlOptions): YamlValue {
  const { file } = options;
  const maxBytes = options.maxBytes ?? MAX_YAML_BYTES;
  if (Buffer.byteLength(text, 'utf8') > maxBytes)
    throw EngineError.invalid(file, `larger than ${maxBytes} bytes`);
  if (yamlNesting(text) > MAX_YAML_NESTING)
    throw EngineError.invalid(file, `nested more than ${MAX_YAML_NESTING} levels deep`);
  try {
    const doc = parseDocument(text, {
      version: '1.2',
      // Every scalar is a string: types are the caller's business.
      schema: 'failsafe',
      // The library's own check compares every pair of keys (a flat map of
      // 30,000 keys takes many seconds); the visitor below uses a Set.
      uniqueKeys: false,
      strict: true,
      merge: false,
      prettyErrors: true,
    });
    const problem = doc.errors[0] ?? doc.warnings[0];
    if (problem) throw EngineError.invalid(file, reasonOf(problem));
    const refuseTag = (tag: string | undefined) => {
      if (tag && !PLAIN_TAGS.has(tag))
        throw EngineError.invalid(file, `tags such as "${tag}" are not allowed`);
    };
    visit(doc, {
      Map(_, map) {
        refuseTag(map.tag);
        const seen = new Set<string>();
        for (const pair of map.items) {
          if (!isScalar(pair.key)) throw EngineError.invalid(file, 'keys must be plain strings');
          const key = String(pair.key.value);
          if (seen.has(key)) {
            const line = pair.key.range ? lineOf(text, pair.key.range[0]) : 0;
            throw EngineError.invalid(file, `line ${line}: duplicate key "${key}"`);
          }
          seen.add(key);
        }
      },
      Seq(_, seq) {
        refuseTag(seq.tag);
      },
      Scalar(key, node) {
        refuseTag(node.tag);
        if (
          key !== 'key' &&
          !node.tag &&
          node.type === 'PLAIN' &&
          PLAIN_NULL.test(String(node.value))
        )
          node.value = null;
      },
    });
    // Keys are scalars (checked above), so toJS gives plain objects of strings.
    return doc.toJS({ maxAliasCount: options.maxAliasCount ?? MAX_YAML_ALIASES }) as YamlValue;
  } catch (error) {
    if (error instanceof EngineError) throw error;
    // The library's alias guard throws a ReferenceError.
    const reason =
      error instanceof ReferenceError && /alias/i.test(error.message)
        ? 'too many alias expansions (a YAML alias bomb?)'
        : reasonOf(error as Error);
    throw EngineError.invalid(file, reason);
  }
}

function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text[i] === '\n') line++;
  return line;
}

/**
 * Writes a mapping as block YAML. YAML 1.1 rules decide what is quoted, so
 * Go's yaml (LXD) reads strings such as "yes", "on" or "0755" back as strings.
 */
export function writeYaml(value: { [key: string]: YamlWritable }): string {
  return stringify(value, { version: '1.1', lineWidth: 0 });
}
