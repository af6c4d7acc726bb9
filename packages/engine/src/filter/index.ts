export {
  describeClause,
  parseFilter,
  type FilterClause,
  type FilterJoin,
  type FilterOperator,
} from './parse-filter';
export { compileFilter, filterObjects, matchFilter, type FilterPredicate } from './match-filter';
export { resolveField } from './resolve-field';
export { compileTextMatcher, type TextMatcher } from './match-text';
