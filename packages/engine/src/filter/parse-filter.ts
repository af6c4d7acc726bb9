import { EngineError } from '../errors';

/**
 * LXD's collection filter language (`GET /1.0/instances?filter=...`), as
 * implemented by LXD's `filter.Parse`:
 *
 *     [not] FIELD (eq|ne) VALUE [(and|or) [not] FIELD (eq|ne) VALUE]...
 *
 * There are no parentheses: clauses fold left to right (see `join`).
 */
export type FilterOperator = 'eq' | 'ne';
export type FilterJoin = 'and' | 'or';

export interface FilterClause {
  /**
   * How this clause folds into the result of the clauses before it. The first
   * clause is always `and`, folding into an initial `true`, as in LXD.
   */
  join: FilterJoin;
  /** A leading `not` negates this one clause only. */
  not: boolean;
  /** A dotted path such as `name`, `state.status` or `config.limits.cpu`. */
  field: string;
  operator: FilterOperator;
  /** The value with any surrounding quotes removed. */
  value: string;
  /** Offset of the clause's first character in the filter text, for messages. */
  offset: number;
}

interface Word {
  text: string;
  offset: number;
}

const OPERATORS: readonly string[] = ['eq', 'ne'] satisfies FilterOperator[];

function isOperator(text: string): text is FilterOperator {
  return OPERATORS.includes(text);
}

function isJoin(text: string): text is FilterJoin {
  return text === 'and' || text === 'or';
}

function isSpace(char: string | undefined): boolean {
  return char !== undefined && /\s/.test(char);
}

function syntaxError(reason: string): EngineError {
  return EngineError.invalid('filter', reason);
}

/** Reads whitespace-separated words; only a value may be quoted. */
class WordReader {
  private position = 0;

  constructor(private readonly text: string) {}

  next(): Word | undefined {
    this.skipSpace();
    if (this.position >= this.text.length) return undefined;
    const offset = this.position;
    while (this.position < this.text.length && !isSpace(this.text[this.position])) {
      this.position++;
    }
    return { text: this.text.slice(offset, this.position), offset };
  }

  /**
   * A value word. A leading `"` opens a quoted value that runs to the next `"`
   * that ends a word (is followed by whitespace or the end), which is LXD's
   * rule for where a quoted value ends; there are no escapes.
   */
  nextValue(): Word | undefined {
    this.skipSpace();
    if (this.text[this.position] !== '"') return this.next();

    const offset = this.position;
    for (let index = offset + 1; index < this.text.length; index++) {
      const endsWord = index + 1 === this.text.length || isSpace(this.text[index + 1]);
      if (this.text[index] === '"' && endsWord) {
        this.position = index + 1;
        return { text: this.text.slice(offset + 1, index), offset };
      }
    }
    throw syntaxError(`unterminated quote: the value at offset ${offset} has no closing '"'`);
  }

  private skipSpace(): void {
    while (isSpace(this.text[this.position])) this.position++;
  }
}

/**
 * Parses a filter string into clauses. An empty or blank filter gives no
 * clauses, which match everything. Throws `INVALID_ARGUMENT` (field `filter`)
 * naming the offending word, its offset and the reason.
 *
 * Like LXD, `not` is case-insensitive while operators and `and`/`or` are not.
 * Unlike LXD, an unknown operator is rejected here (LXD 5.0 treats it as `eq`,
 * later LXD fails when matching), a one-word quoted value such as `"c1"` or
 * `""` is accepted (LXD reports an unterminated quote), and whitespace inside
 * quotes is kept as written (LXD collapses each run to one space).
 */
export function parseFilter(text: string): FilterClause[] {
  const reader = new WordReader(text);
  const clauses: FilterClause[] = [];
  let join: FilterJoin = 'and';
  let word = reader.next();

  while (word !== undefined) {
    const offset = word.offset;
    let not = false;
    if (word.text.toLowerCase() === 'not') {
      not = true;
      const next = reader.next();
      if (next === undefined) {
        throw syntaxError(
          `incomplete not clause: "${word.text}" at offset ${offset} has nothing after it`,
        );
      }
      word = next;
    }

    const field = word;
    const operator = reader.next();
    if (operator === undefined) {
      throw syntaxError(
        `clause has no operator: "${field.text}" at offset ${field.offset} needs eq or ne and a value`,
      );
    }
    if (!isOperator(operator.text)) {
      throw syntaxError(
        `unknown operator "${operator.text}" at offset ${operator.offset}: expected eq or ne`,
      );
    }

    const value = reader.nextValue();
    if (value === undefined) {
      throw syntaxError(
        `clause has no value: "${field.text} ${operator.text}" at offset ${field.offset} needs a value`,
      );
    }

    clauses.push({
      join,
      not,
      field: field.text,
      operator: operator.text,
      value: value.text,
      offset,
    });

    const joiner = reader.next();
    if (joiner === undefined) break;
    if (!isJoin(joiner.text)) {
      throw syntaxError(
        `invalid clause composition: expected "and" or "or" at offset ${joiner.offset}, got "${joiner.text}"`,
      );
    }
    word = reader.next();
    if (word === undefined) {
      throw syntaxError(
        `unterminated compound clause: "${joiner.text}" at offset ${joiner.offset} has no clause after it`,
      );
    }
    join = joiner.text;
  }

  return clauses;
}

/** The clause as it could be written back, for error messages. */
export function describeClause(clause: FilterClause): string {
  const value = /\s/.test(clause.value) || clause.value === '' ? `"${clause.value}"` : clause.value;
  return `${clause.not ? 'not ' : ''}${clause.field} ${clause.operator} ${value}`;
}
