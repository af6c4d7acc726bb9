// The values an image template sees, and how pongo2 (LXD's template engine)
// treats them: truthiness, string form, equality, lookups. Maps are `Map`s
// and lookups go through `Map.get` or array indexes only, so a template can
// never reach a JavaScript object's prototype, constructor or methods
// (`{{ config.constructor }}` is just a missing key, i.e. empty).

export type TemplateValue =
  null | string | number | boolean | readonly TemplateValue[] | TemplateMap | TemplateFunction;

export type TemplateMap = ReadonlyMap<string, TemplateValue>;

/** A function the context offers (`config_get`): called with exactly `arity` arguments. */
export class TemplateFunction {
  constructor(
    readonly name: string,
    readonly arity: number,
    readonly call: (args: TemplateValue[]) => TemplateValue,
  ) {}
}

export function isMap(value: TemplateValue): value is TemplateMap {
  return value instanceof Map;
}

/** Plain data (records, arrays, strings, numbers, booleans) as template values; anything else is null. */
export function toTemplateValue(value: unknown, depth = 0): TemplateValue {
  if (depth > 16) return null;
  if (value === null || value === undefined) return null;
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (value instanceof TemplateFunction) return value;
  if (Array.isArray(value)) return value.map((v) => toTemplateValue(v, depth + 1));
  if (value instanceof Map) {
    return new Map([...value].map(([k, v]) => [String(k), toTemplateValue(v, depth + 1)]));
  }
  if (typeof value === 'object') {
    return new Map(
      Object.entries(value as Record<string, unknown>).map(([k, v]) => [
        k,
        toTemplateValue(v, depth + 1),
      ]),
    );
  }
  return null;
}

/** pongo2's IsTrue: non-zero numbers, non-empty strings, lists and maps, `true`. */
export function isTrue(value: TemplateValue): boolean {
  if (value === null) return false;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return value !== 0;
  if (typeof value === 'string') return value.length > 0;
  if (Array.isArray(value)) return value.length > 0;
  if (isMap(value)) return value.size > 0;
  return true;
}

/** pongo2's Integer()/Float(): numbers as they are, numeric strings parsed, anything else 0. */
export function toNumber(value: TemplateValue): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'boolean') return 0;
  if (typeof value === 'string') {
    const n = Number(value.trim());
    return value.trim() !== '' && Number.isFinite(n) ? n : 0;
  }
  return 0;
}

/** The text a value renders as (pongo2's String(): nil is empty, booleans `True`/`False`, floats `%f`). */
export function stringify(value: TemplateValue): string {
  if (value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : value.toFixed(6);
  if (value instanceof TemplateFunction) return '';
  // Go's %v, which is what a Go map or slice would print as (keys sorted, as fmt sorts them).
  if (Array.isArray(value)) return `[${value.map(stringify).join(' ')}]`;
  const map = value as TemplateMap;
  return `map[${[...map.keys()]
    .sort()
    .map((k) => `${k}:${stringify(map.get(k) ?? null)}`)
    .join(' ')}]`;
}

/** pongo2's EqualValueTo (Go `==` on the underlying values): same type and value; lists and maps only equal themselves. */
export function equalValues(a: TemplateValue, b: TemplateValue): boolean {
  return a === b;
}

/** `a.b`: a map's own key, or an index into a list or a string; anything else is missing (null). */
export function lookup(value: TemplateValue, key: string): TemplateValue {
  if (isMap(value)) return value.has(key) ? (value.get(key) ?? null) : null;
  if (!/^\d+$/.test(key)) return null;
  const index = Number(key);
  if (Array.isArray(value)) return index < value.length ? (value[index] ?? null) : null;
  if (typeof value === 'string') return index < value.length ? value.charAt(index) : null;
  return null;
}

/** `x in y`: a substring, a map's key, a list's item. */
export function contains(container: TemplateValue, item: TemplateValue): boolean {
  if (typeof container === 'string') return container.includes(stringify(item));
  if (isMap(container)) return typeof item === 'string' && container.has(item);
  if (Array.isArray(container)) return container.some((v) => equalValues(v, item));
  return false;
}

export function lengthOf(value: TemplateValue): number {
  if (typeof value === 'string') return [...value].length;
  if (Array.isArray(value)) return value.length;
  if (isMap(value)) return value.size;
  return 0;
}

/** What `{% for %}` walks: a list's items, a map's keys (sorted, with values), a string's characters. */
export function iterationOf(value: TemplateValue): [TemplateValue, TemplateValue][] {
  if (Array.isArray(value)) return value.map((v) => [v, null]);
  if (isMap(value)) return [...value.keys()].sort().map((k) => [k, value.get(k) ?? null]);
  if (typeof value === 'string') return [...value].map((c) => [c, null]);
  return [];
}
