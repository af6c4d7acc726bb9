// Parses an image template into a tree, with pongo2's grammar for the part
// image templates use:
//   {{ expr }}, {% if %}/{% elif %}/{% else %}/{% endif %},
//   {% for x in expr [reversed] [sorted] %} (also `k, v` over a map) with
//   {% empty %} and forloop.counter..., {% set x = expr %},
//   {% comment %}…{% endcomment %}, {% autoescape off %}…{% endautoescape %}.
// Expressions, as pongo2 nests them (so `a and b or c` is `a and (b or c)`,
// and `not a == b` is `(not a) == b`, which is what LXD's templates mean):
//   expression := relational [ (and|or|&&|||) expression ]
//   relational := simple [ (==|!=|<>|<|>|<=|>=) relational | in simple ]
//   simple     := [+|-] [not|!] term [ (+|-) simple ]
//   term       := factor [ * term ]
//   factor     := ( expression ) | operand { |filter[:operand] }
//   operand    := "string" | 123 | 1.5 | true | false | name { .name | .0 | (args) }
// Anything else (include, extends, macros, ...) is refused with its line:
// templates render on the host, so nothing here reads a file or runs code.
import { TemplateSyntaxError } from './template-error.ts';
import { lexTemplate, type Chunk, type Token } from './template-lexer.ts';
import type { TemplateValue } from './template-values.ts';

export type Part = { kind: 'attr'; name: string } | { kind: 'call'; args: Expr[] };

export type Expr =
  | { type: 'literal'; value: TemplateValue }
  | { type: 'variable'; name: string; parts: Part[]; line: number }
  | { type: 'filter'; expr: Expr; name: string; arg: Expr | null; line: number }
  | { type: 'not'; expr: Expr }
  | { type: 'negative'; expr: Expr; line: number }
  | { type: 'binary'; op: string; left: Expr; right: Expr; line: number };

export type TemplateNode =
  | { type: 'text'; value: string }
  | { type: 'output'; expr: Expr; line: number }
  | {
      type: 'if';
      branches: { condition: Expr; body: TemplateNode[] }[];
      otherwise: TemplateNode[];
    }
  | {
      type: 'for';
      key: string;
      value: string | null;
      iterable: Expr;
      reversed: boolean;
      sorted: boolean;
      body: TemplateNode[];
      empty: TemplateNode[];
      line: number;
    }
  | { type: 'set'; name: string; expr: Expr };

/** Blocks and expressions nest at most this deep (no template needs more; recursion stays bounded). */
export const MAX_NESTING = 64;

const UNSUPPORTED_TAGS: Record<string, string> = {
  include: 'templates are rendered on the host and may not read other files',
  extends: 'templates are rendered on the host and may not read other files',
  import: 'templates are rendered on the host and may not read other files',
  ssi: 'templates are rendered on the host and may not read other files',
};

class TokenStream {
  #at = 0;
  constructor(
    readonly tokens: Token[],
    readonly line: number,
  ) {}

  peek(kind?: Token['kind'], ...values: string[]): Token | undefined {
    const t = this.tokens[this.#at];
    if (!t) return undefined;
    if (kind && t.kind !== kind) return undefined;
    if (values.length && !values.includes(t.value)) return undefined;
    return t;
  }

  match(kind: Token['kind'], ...values: string[]): Token | undefined {
    const t = this.peek(kind, ...values);
    if (t) this.#at++;
    return t;
  }

  next(): Token | undefined {
    return this.tokens[this.#at++];
  }

  expect(kind: Token['kind'], value: string | undefined, what: string): Token {
    const t = value === undefined ? this.match(kind) : this.match(kind, value);
    if (!t) throw this.error(`expected ${what}${this.describeNext()}`);
    return t;
  }

  done(): boolean {
    return this.#at >= this.tokens.length;
  }

  end(what: string): void {
    if (!this.done()) throw this.error(`unexpected ${this.describe(this.peek())} in ${what}`);
  }

  describe(t: Token | undefined): string {
    if (!t) return 'the end';
    return t.kind === 'string' ? `"${t.value}"` : `"${t.value}"`;
  }

  describeNext(): string {
    return this.done() ? ', found the end' : `, found ${this.describe(this.peek())}`;
  }

  error(message: string): TemplateSyntaxError {
    return new TemplateSyntaxError(this.peek()?.line ?? this.line, message);
  }
}

class ExpressionParser {
  #depth = 0;
  constructor(readonly s: TokenStream) {}

  #nest<T>(work: () => T): T {
    if (++this.#depth > MAX_NESTING) throw this.s.error('the expression is nested too deeply');
    try {
      return work();
    } finally {
      this.#depth--;
    }
  }

  expression(): Expr {
    return this.#nest(() => {
      const left = this.relational();
      const op = this.s.match('symbol', '&&', '||') ?? this.s.match('keyword', 'and', 'or');
      if (!op) return left;
      const right = this.expression();
      const name = op.value === '&&' ? 'and' : op.value === '||' ? 'or' : op.value;
      return { type: 'binary', op: name, left, right, line: op.line };
    });
  }

  relational(): Expr {
    return this.#nest(() => {
      const left = this.simple();
      const op = this.s.match('symbol', '==', '!=', '<>', '<=', '>=', '<', '>');
      if (op) {
        const right = this.relational();
        return {
          type: 'binary',
          op: op.value === '<>' ? '!=' : op.value,
          left,
          right,
          line: op.line,
        };
      }
      const inOp = this.s.match('keyword', 'in');
      if (inOp) return { type: 'binary', op: 'in', left, right: this.simple(), line: inOp.line };
      return left;
    });
  }

  simple(): Expr {
    return this.#nest(() => {
      const sign = this.s.match('symbol', '+', '-');
      const negate = this.s.match('symbol', '!') ?? this.s.match('keyword', 'not');
      let expr = this.term();
      if (negate) expr = { type: 'not', expr };
      if (sign?.value === '-') expr = { type: 'negative', expr, line: sign.line };
      const op = this.s.match('symbol', '+', '-');
      if (!op) return expr;
      return { type: 'binary', op: op.value, left: expr, right: this.simple(), line: op.line };
    });
  }

  term(): Expr {
    return this.#nest(() => {
      const left = this.factor();
      const op = this.s.peek('symbol', '*', '/', '^', '%');
      if (!op) return left;
      if (op.value !== '*')
        throw this.s.error(`the operator "${op.value}" is not supported in image templates`);
      this.s.next();
      return { type: 'binary', op: '*', left, right: this.term(), line: op.line };
    });
  }

  factor(): Expr {
    return this.#nest(() => {
      if (this.s.match('symbol', '(')) {
        const inner = this.expression();
        this.s.expect('symbol', ')', 'a closing ")"');
        return inner;
      }
      let expr = this.operand();
      for (let bar = this.s.match('symbol', '|'); bar; bar = this.s.match('symbol', '|')) {
        const name = this.s.expect('name', undefined, 'a filter name after "|"');
        const arg = this.s.match('symbol', ':') ? this.operand() : null;
        expr = { type: 'filter', expr, name: name.value, arg, line: name.line };
      }
      return expr;
    });
  }

  operand(): Expr {
    const t = this.s.next();
    if (!t) throw this.s.error('expected a value, found the end');
    if (t.kind === 'string') return { type: 'literal', value: t.value };
    if (t.kind === 'number') {
      // pongo2 reads `1.5` as the number 1, a dot, the number 5.
      const dot = this.s.peek('symbol', '.');
      if (dot && this.s.tokens[this.s.tokens.indexOf(dot) + 1]?.kind === 'number') {
        this.s.next();
        const fraction = this.s.next() as Token;
        return { type: 'literal', value: Number(`${t.value}.${fraction.value}`) };
      }
      return { type: 'literal', value: Number(t.value) };
    }
    if (t.kind === 'keyword' && (t.value === 'true' || t.value === 'false'))
      return { type: 'literal', value: t.value === 'true' };
    if (t.kind !== 'name')
      throw new TemplateSyntaxError(t.line, `expected a value, found "${t.value}"`);
    const parts: Part[] = [];
    for (;;) {
      if (this.s.match('symbol', '.')) {
        const part = this.s.match('name') ?? this.s.match('number') ?? this.s.match('keyword');
        if (!part) throw this.s.error(`expected a name after "."${this.s.describeNext()}`);
        parts.push({ kind: 'attr', name: part.value });
        continue;
      }
      if (this.s.match('symbol', '(')) {
        const args: Expr[] = [];
        if (!this.s.match('symbol', ')')) {
          for (;;) {
            args.push(this.expression());
            if (this.s.match('symbol', ')')) break;
            this.s.expect('symbol', ',', 'a "," or ")" in the call');
          }
        }
        parts.push({ kind: 'call', args });
        continue;
      }
      return { type: 'variable', name: t.value, parts, line: t.line };
    }
  }
}

function parseExpressionOf(tokens: Token[], line: number, what: string): Expr {
  const s = new TokenStream(tokens, line);
  if (s.done()) throw new TemplateSyntaxError(line, `${what} needs an expression`);
  const expr = new ExpressionParser(s).expression();
  s.end(what);
  return expr;
}

type Ending = { name: string; stream: TokenStream; line: number } | null;

class DocumentParser {
  #at = 0;
  #depth = 0;
  constructor(readonly chunks: Chunk[]) {}

  /** Nodes up to one of `ends` (returned with the rest of its tag) or the end of the document. */
  body(
    ends: string[],
    opener: { tag: string; line: number } | null,
  ): { nodes: TemplateNode[]; ending: Ending } {
    if (++this.#depth > MAX_NESTING)
      throw new TemplateSyntaxError(opener?.line ?? 1, 'blocks are nested too deeply');
    const nodes: TemplateNode[] = [];
    try {
      while (this.#at < this.chunks.length) {
        const chunk = this.chunks[this.#at++] as Chunk;
        if (chunk.kind === 'text') {
          nodes.push({ type: 'text', value: chunk.value });
          continue;
        }
        if (chunk.kind === 'output') {
          nodes.push({
            type: 'output',
            expr: parseExpressionOf(chunk.tokens, chunk.line, '{{ }}'),
            line: chunk.line,
          });
          continue;
        }
        const stream = new TokenStream(chunk.tokens, chunk.line);
        const name = stream.match('name') ?? stream.match('keyword');
        if (!name) throw new TemplateSyntaxError(chunk.line, 'a {% %} tag needs a name');
        if (ends.includes(name.value))
          return { nodes, ending: { name: name.value, stream, line: chunk.line } };
        nodes.push(...this.tag(name.value, stream, chunk.line));
      }
      if (opener) {
        throw new TemplateSyntaxError(
          opener.line,
          `{% ${opener.tag} %} is not closed (expected ${ends.map((e) => `{% ${e} %}`).join(' or ')})`,
        );
      }
      return { nodes, ending: null };
    } finally {
      this.#depth--;
    }
  }

  tag(name: string, s: TokenStream, line: number): TemplateNode[] {
    switch (name) {
      case 'if':
        return [this.ifTag(s, line)];
      case 'for':
        return [this.forTag(s, line)];
      case 'set': {
        const target = s.expect('name', undefined, 'a variable name after "set"');
        s.expect('symbol', '=', '"=" after the variable name');
        const expr = new ExpressionParser(s).expression();
        s.end('{% set %}');
        return [{ type: 'set', name: target.value, expr }];
      }
      case 'comment':
        s.end('{% comment %}');
        this.skipTo('endcomment', line);
        return [];
      case 'autoescape': {
        // LXD renders every template inside {% autoescape off %}: "off" is what it already is.
        const mode = s.match('name', 'off');
        if (!mode) throw s.error('only {% autoescape off %} is supported in image templates');
        s.end('{% autoescape %}');
        const { nodes, ending } = this.body(['endautoescape'], { tag: 'autoescape', line });
        ending?.stream.end('{% endautoescape %}');
        return nodes;
      }
      case 'elif':
      case 'else':
      case 'endif':
      case 'empty':
      case 'endfor':
      case 'endcomment':
      case 'endautoescape':
        throw new TemplateSyntaxError(line, `{% ${name} %} without its opening tag`);
      default: {
        const why = UNSUPPORTED_TAGS[name];
        throw new TemplateSyntaxError(
          line,
          `the tag "${name}" is not supported in image templates${why ? ` (${why})` : ''}`,
        );
      }
    }
  }

  ifTag(s: TokenStream, line: number): TemplateNode {
    const branches: { condition: Expr; body: TemplateNode[] }[] = [];
    let condition = parseRest(s, line, '{% if %}');
    let otherwise: TemplateNode[] = [];
    for (;;) {
      const { nodes, ending } = this.body(['elif', 'else', 'endif'], { tag: 'if', line });
      branches.push({ condition, body: nodes });
      if (!ending || ending.name === 'endif') {
        ending?.stream.end('{% endif %}');
        break;
      }
      if (ending.name === 'elif') {
        condition = parseRest(ending.stream, ending.line, '{% elif %}');
        continue;
      }
      ending.stream.end('{% else %}');
      const rest = this.body(['endif'], { tag: 'if', line });
      rest.ending?.stream.end('{% endif %}');
      otherwise = rest.nodes;
      break;
    }
    return { type: 'if', branches, otherwise };
  }

  forTag(s: TokenStream, line: number): TemplateNode {
    const key = s.expect('name', undefined, 'a loop variable after "for"');
    const value = s.match('symbol', ',')
      ? s.expect('name', undefined, 'a second loop variable after ","')
      : null;
    s.expect('keyword', 'in', '"in" in {% for %}');
    const parser = new ExpressionParser(s);
    const iterable = parser.expression();
    let reversed = false;
    let sorted = false;
    for (
      let flag = s.match('name', 'reversed', 'sorted');
      flag;
      flag = s.match('name', 'reversed', 'sorted')
    ) {
      if (flag.value === 'reversed') reversed = true;
      else sorted = true;
    }
    s.end('{% for %}');
    const { nodes, ending } = this.body(['empty', 'endfor'], { tag: 'for', line });
    let empty: TemplateNode[] = [];
    if (ending?.name === 'empty') {
      ending.stream.end('{% empty %}');
      const rest = this.body(['endfor'], { tag: 'for', line });
      rest.ending?.stream.end('{% endfor %}');
      empty = rest.nodes;
    } else ending?.stream.end('{% endfor %}');
    return {
      type: 'for',
      key: key.value,
      value: value?.value ?? null,
      iterable,
      reversed,
      sorted,
      body: nodes,
      empty,
      line,
    };
  }

  skipTo(end: string, line: number): void {
    while (this.#at < this.chunks.length) {
      const chunk = this.chunks[this.#at++] as Chunk;
      if (chunk.kind === 'tag' && chunk.tokens[0]?.value === end) return;
    }
    throw new TemplateSyntaxError(line, `{% comment %} is not closed (expected {% ${end} %})`);
  }
}

function parseRest(s: TokenStream, line: number, what: string): Expr {
  if (s.done()) throw new TemplateSyntaxError(line, `${what} needs a condition`);
  const expr = new ExpressionParser(s).expression();
  s.end(what);
  return expr;
}

/** The tree of `source`; TemplateSyntaxError (with the line) for anything outside the supported subset. */
export function parseTemplate(source: string): TemplateNode[] {
  const parser = new DocumentParser(lexTemplate(source));
  return parser.body([], null).nodes;
}
