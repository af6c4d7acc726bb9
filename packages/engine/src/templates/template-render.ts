// Renders a parsed image template against its context, as pongo2 would with
// LXD's `{% autoescape off %}` around it (values are written as they are).
// Bounded: the output may not grow past `maxOutputBytes` and the work past
// `maxSteps` (nested loops over a big config), so an image cannot make the
// engine write gigabytes or spin.
import { TemplateSyntaxError } from './template-error.ts';
import { FILTERS } from './template-filters.ts';
import { parseTemplate, type Expr, type TemplateNode } from './template-parser.ts';
import {
  contains,
  equalValues,
  isTrue,
  iterationOf,
  lookup,
  stringify,
  TemplateFunction,
  toNumber,
  type TemplateMap,
  type TemplateValue,
} from './template-values.ts';

export interface RenderLimits {
  maxOutputBytes: number;
  maxSteps: number;
}

export const DEFAULT_RENDER_LIMITS: RenderLimits = {
  maxOutputBytes: 1024 * 1024,
  maxSteps: 1_000_000,
};

/** A template source larger than this is refused before parsing (LXD's are a few hundred bytes). */
export const MAX_TEMPLATE_BYTES = 256 * 1024;

class Scope {
  readonly #vars = new Map<string, TemplateValue>();
  constructor(
    readonly parent: Scope | null,
    readonly globals: TemplateMap,
  ) {}

  get(name: string): TemplateValue {
    if (this.#vars.has(name)) return this.#vars.get(name) ?? null;
    if (this.parent) return this.parent.get(name);
    return this.globals.has(name) ? (this.globals.get(name) ?? null) : null;
  }

  set(name: string, value: TemplateValue): void {
    this.#vars.set(name, value);
  }
}

class Renderer {
  #out: string[] = [];
  #bytes = 0;
  #steps = 0;
  constructor(readonly limits: RenderLimits) {}

  #step(line: number): void {
    if (++this.#steps > this.limits.maxSteps)
      throw new TemplateSyntaxError(line, `rendering took more than ${this.limits.maxSteps} steps`);
  }

  #write(text: string, line: number): void {
    this.#bytes += Buffer.byteLength(text);
    if (this.#bytes > this.limits.maxOutputBytes) {
      throw new TemplateSyntaxError(
        line,
        `the output is larger than ${this.limits.maxOutputBytes} bytes`,
      );
    }
    this.#out.push(text);
  }

  result(): string {
    return this.#out.join('');
  }

  nodes(nodes: TemplateNode[], scope: Scope, line = 1): void {
    for (const node of nodes) this.node(node, scope, line);
  }

  node(node: TemplateNode, scope: Scope, line: number): void {
    this.#step(line);
    switch (node.type) {
      case 'text':
        this.#write(node.value, line);
        return;
      case 'output':
        this.#write(stringify(this.eval(node.expr, scope)), node.line);
        return;
      case 'set':
        scope.set(node.name, this.eval(node.expr, scope));
        return;
      case 'if': {
        for (const branch of node.branches) {
          if (isTrue(this.eval(branch.condition, scope))) {
            this.nodes(branch.body, scope, line);
            return;
          }
        }
        this.nodes(node.otherwise, scope, line);
        return;
      }
      case 'for': {
        let items = iterationOf(this.eval(node.iterable, scope));
        if (node.sorted) items = [...items].sort(([a], [b]) => compareForSort(a, b));
        if (node.reversed) items = [...items].reverse();
        if (items.length === 0) {
          this.nodes(node.empty, scope, node.line);
          return;
        }
        const parentLoop = scope.get('forloop');
        items.forEach(([key, value], i) => {
          this.#step(node.line);
          const inner = new Scope(scope, scope.globals);
          inner.set(node.key, key);
          if (node.value !== null) inner.set(node.value, value);
          inner.set('forloop', forloopOf(i, items.length, parentLoop));
          this.nodes(node.body, inner, node.line);
        });
        return;
      }
    }
  }

  eval(expr: Expr, scope: Scope): TemplateValue {
    switch (expr.type) {
      case 'literal':
        return expr.value;
      case 'variable': {
        this.#step(expr.line);
        let value = scope.get(expr.name);
        let named = expr.name;
        for (const part of expr.parts) {
          if (part.kind === 'attr') {
            value = lookup(value, part.name);
            named += `.${part.name}`;
            continue;
          }
          if (!(value instanceof TemplateFunction))
            throw new TemplateSyntaxError(expr.line, `"${named}" is not a function`);
          if (part.args.length !== value.arity) {
            throw new TemplateSyntaxError(
              expr.line,
              `${value.name}() takes ${value.arity} arguments, got ${part.args.length}`,
            );
          }
          value = value.call(part.args.map((a) => this.eval(a, scope)));
          named += '()';
        }
        return value;
      }
      case 'filter': {
        const filter = FILTERS.get(expr.name);
        if (!filter) {
          throw new TemplateSyntaxError(
            expr.line,
            `the filter "${expr.name}" is not supported in image templates (supported: ${[...FILTERS.keys()].join(', ')})`,
          );
        }
        const input = this.eval(expr.expr, scope);
        return filter(input, expr.arg ? this.eval(expr.arg, scope) : undefined);
      }
      case 'not':
        return negate(this.eval(expr.expr, scope));
      case 'negative': {
        const value = this.eval(expr.expr, scope);
        if (typeof value !== 'number')
          throw new TemplateSyntaxError(expr.line, 'a negative sign on something not a number');
        return -value;
      }
      case 'binary':
        return this.binary(expr, scope);
    }
  }

  binary(expr: Extract<Expr, { type: 'binary' }>, scope: Scope): TemplateValue {
    const left = this.eval(expr.left, scope);
    if (expr.op === 'and') return isTrue(left) && isTrue(this.eval(expr.right, scope));
    if (expr.op === 'or') return isTrue(left) || isTrue(this.eval(expr.right, scope));
    const right = this.eval(expr.right, scope);
    switch (expr.op) {
      case '==':
        return equalValues(left, right);
      case '!=':
        return !equalValues(left, right);
      case 'in':
        return contains(right, left);
      case '<':
      case '>':
      case '<=':
      case '>=': {
        const [a, b] = numericPair(left, right);
        return expr.op === '<'
          ? a < b
          : expr.op === '>'
            ? a > b
            : expr.op === '<='
              ? a <= b
              : a >= b;
      }
      case '+':
      case '-': {
        const [a, b] = numericPair(left, right);
        return expr.op === '+' ? a + b : a - b;
      }
      case '*':
        return Math.trunc(toNumber(left)) * Math.trunc(toNumber(right));
      default:
        throw new TemplateSyntaxError(expr.line, `the operator "${expr.op}" is not supported`);
    }
  }
}

/** pongo2 works in floats when either side is one, else in integers (`"1.5"` is 1). */
function numericPair(a: TemplateValue, b: TemplateValue): [number, number] {
  const isFloat = (v: TemplateValue) => typeof v === 'number' && !Number.isInteger(v);
  if (isFloat(a) || isFloat(b)) return [toNumber(a), toNumber(b)];
  return [Math.trunc(toNumber(a)), Math.trunc(toNumber(b))];
}

/** pongo2's Negate: numbers become 0/1, everything else a boolean. */
function negate(value: TemplateValue): TemplateValue {
  if (typeof value === 'number') return value !== 0 ? 0 : 1;
  if (value === null) return true;
  return !isTrue(value);
}

function compareForSort(a: TemplateValue, b: TemplateValue): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const x = stringify(a);
  const y = stringify(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Django's names and pongo2's (its Go fields are capitalised). */
function forloopOf(index: number, count: number, parent: TemplateValue): TemplateMap {
  const entries: [string, TemplateValue][] = [
    ['counter', index + 1],
    ['counter0', index],
    ['revcounter', count - index],
    ['revcounter0', count - index - 1],
    ['first', index === 0],
    ['last', index === count - 1],
    ['parentloop', parent],
  ];
  return new Map(
    entries.flatMap(([k, v]) => [
      [k, v],
      [k.charAt(0).toUpperCase() + k.slice(1), v],
    ]),
  );
}

export type CompiledTemplate = TemplateNode[];

/** Parses once; TemplateSyntaxError with the line for what is outside the supported subset. */
export function compileTemplate(source: string): CompiledTemplate {
  if (Buffer.byteLength(source) > MAX_TEMPLATE_BYTES)
    throw new TemplateSyntaxError(1, `the template is larger than ${MAX_TEMPLATE_BYTES} bytes`);
  return parseTemplate(source);
}

export function renderCompiled(
  template: CompiledTemplate,
  context: TemplateMap,
  limits: RenderLimits = DEFAULT_RENDER_LIMITS,
): string {
  const renderer = new Renderer(limits);
  renderer.nodes(template, new Scope(null, context));
  return renderer.result();
}

/** Renders `source` with `context`; TemplateSyntaxError (with the line) on failure. */
export function renderTemplate(
  source: string,
  context: TemplateMap,
  limits: RenderLimits = DEFAULT_RENDER_LIMITS,
): string {
  return renderCompiled(compileTemplate(source), context, limits);
}
