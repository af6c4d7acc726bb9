// The pongo2 filters image templates use (`{{ x|default:"y" }}`), with
// pongo2's meaning. A filter not listed is refused by name.
import { isTrue, lengthOf, stringify, toNumber, type TemplateValue } from './template-values.ts';

type Filter = (input: TemplateValue, arg: TemplateValue | undefined) => TemplateValue;

const chars = (s: string) => [...s];

function escapeHtml(input: TemplateValue): string {
  return stringify(input)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

export const FILTERS: ReadonlyMap<string, Filter> = new Map<string, Filter>([
  // Empty, zero, false or missing: the argument (pongo2's `default`).
  ['default', (input, arg) => (isTrue(input) ? input : (arg ?? null))],
  ['default_if_none', (input, arg) => (input === null ? (arg ?? null) : input)],
  ['lower', (input) => stringify(input).toLowerCase()],
  ['upper', (input) => stringify(input).toUpperCase()],
  [
    'capfirst',
    (input) => {
      const s = stringify(input);
      return s.charAt(0).toUpperCase() + s.slice(1);
    },
  ],
  [
    'title',
    (input) =>
      stringify(input)
        .toLowerCase()
        .replace(/(^|\s)(\S)/g, (_m, space: string, c: string) => space + c.toUpperCase()),
  ],
  ['length', (input) => lengthOf(input)],
  ['length_is', (input, arg) => lengthOf(input) === toNumber(arg ?? null)],
  [
    'join',
    (input, arg) =>
      Array.isArray(input)
        ? input.map(stringify).join(stringify(arg ?? null))
        : chars(stringify(input)).join(stringify(arg ?? null)),
  ],
  [
    'first',
    (input) => {
      if (Array.isArray(input)) return input[0] ?? '';
      return chars(stringify(input))[0] ?? '';
    },
  ],
  [
    'last',
    (input) => {
      if (Array.isArray(input)) return input[input.length - 1] ?? '';
      const c = chars(stringify(input));
      return c[c.length - 1] ?? '';
    },
  ],
  ['safe', (input) => input],
  ['string', (input) => stringify(input)],
  ['integer', (input) => Math.trunc(toNumber(input))],
  ['float', (input) => toNumber(input)],
  [
    'add',
    (input, arg) => {
      const b = arg ?? null;
      if (typeof input === 'number' && typeof b === 'number') return input + b;
      return stringify(input) + stringify(b);
    },
  ],
  [
    'cut',
    (input, arg) =>
      stringify(input)
        .split(stringify(arg ?? null))
        .join(''),
  ],
  [
    'yesno',
    (input, arg) => {
      const [yes = 'yes', no = 'no', maybe] = stringify(arg ?? 'yes,no').split(',');
      if (input === null && maybe !== undefined) return maybe;
      return isTrue(input) ? yes : no;
    },
  ],
  ['linebreaksbr', (input) => stringify(input).replace(/\n/g, '<br />')],
  ['escape', escapeHtml],
  ['e', escapeHtml],
  ['striptags', (input) => stringify(input).replace(/<[^>]*>/g, '')],
  ['wordcount', (input) => stringify(input).split(/\s+/).filter(Boolean).length],
]);
