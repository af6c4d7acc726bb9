import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EngineError } from '../errors';
import { filterObjects, matchFilter } from './match-filter';
import { parseFilter, type FilterClause } from './parse-filter';

type Json = Record<string, unknown>;

/** The first instance of a recorded LXD 5.0.2 `GET /1.0/instances` response. */
function loadInstance(file: string): Json {
  const body = JSON.parse(
    readFileSync(new URL(`../../test/fixtures/lxd-5.0.2/${file}`, import.meta.url), 'utf8'),
  ) as {
    metadata: Json[];
  };
  const [first] = body.metadata;
  if (first === undefined) throw new Error(`${file} has no instances`);
  return first;
}

// recursion=1 is api.Instance; recursion=2 is api.InstanceFull (adds state, snapshots, backups).
const instance = loadInstance('GET_instances_recursion1.json');
const full = loadInstance('GET_instances_recursion2.json');

function variant(base: Json, changes: Json): Json {
  const copy = structuredClone(base);
  for (const [key, value] of Object.entries(changes)) {
    const current = copy[key];
    copy[key] =
      typeof current === 'object' && current !== null && !Array.isArray(current)
        ? { ...current, ...(value as Json) }
        : value;
  }
  return copy;
}

function thrownBy(run: () => unknown): EngineError {
  try {
    run();
  } catch (error) {
    if (error instanceof EngineError) return error;
    throw error;
  }
  throw new Error('expected an EngineError');
}

describe('matchFilter on recorded LXD 5.0.2 instances', () => {
  // [filter, matches api.Instance (recursion=1), matches api.InstanceFull (recursion=2)]
  const cases: [string, boolean, boolean][] = [
    ['', true, true],
    // Strings: anchored, case-insensitive regular expressions.
    ['name eq demo', true, true],
    ['name eq DEMO', true, true],
    ['name eq dem', false, false],
    ['name eq de.*', true, true],
    ['name eq ^de', true, true],
    ['name eq d[a-z]+o', true, true],
    ['name ne demo', false, false],
    ['name ne c1.*', true, true],
    ['status eq Running', true, true],
    ['status eq running', true, true],
    ['status eq stopped', false, false],
    ['type eq container', true, true],
    ['type eq virtual-machine', false, false],
    ['architecture eq x86_64', true, true],
    ['architecture eq [', false, false],
    ['location eq none', true, true],
    ['project eq default', true, true],
    ['description eq ""', true, true],
    ['description eq "my box"', false, false],
    ['created_at eq 2026-11-28T.*', true, true],
    ['last_used_at eq ^2026-11-28', true, true],
    // Config maps: the rest of the path is one key; a missing key reads as "".
    ['config.image.os eq busybox', true, true],
    ['config.image.release eq 1.35', true, true],
    ['config.volatile.last_state.power eq RUNNING', true, true],
    ['config.volatile.eth0.hwaddr eq 00:16:3e:5d:28:7d', true, true],
    ['expanded_config.image.os eq BusyBox', true, true],
    ['config.limits.cpu eq 2', false, false],
    ['config.limits.cpu eq ""', true, true],
    ['config.limits.cpu ne 2', true, true],
    ['expanded_config.security.nesting eq true', false, false],
    // Devices: local devices are empty here; the profile's are expanded.
    ['expanded_devices.root.pool eq default', true, true],
    ['expanded_devices.eth0.network eq lxdbr0', true, true],
    ['expanded_devices.eth0.nictype eq bridged', false, false],
    ['expanded_devices.eth1.type eq nic', false, false],
    ['expanded_devices.eth1.type ne nic', true, true],
    ['devices.root.pool eq default', false, false],
    // Booleans and integers compare by value; the spellings Go's ParseBool takes.
    ['ephemeral eq false', true, true],
    ['ephemeral eq False', true, true],
    ['ephemeral eq 0', true, true],
    ['ephemeral eq f', true, true],
    ['ephemeral eq true', false, false],
    ['ephemeral ne true', true, true],
    ['stateful eq FALSE', true, true],
    ['status_code eq 103', true, true],
    ['status_code eq +103', true, true],
    ['status_code eq 0103', true, true],
    ['status_code eq 102', false, false],
    ['status_code ne 102', true, true],
    // String lists compare as an exact JSON list.
    ['profiles eq ["default"]', true, true],
    ['profiles eq ["Default"]', false, false],
    ['profiles eq []', false, false],
    ['profiles eq "["default", "x"]"', false, false],
    ['profiles ne ["default","x"]', true, true],
    // InstanceFull only: state. A missing field equals nothing.
    ['state.status eq running', false, true],
    ['state.status ne running', true, false],
    ['state.status_code eq 103', false, true],
    ['state.pid eq 13972', false, true],
    ['state.memory.usage eq 466944', false, true],
    ['state.network.eth0.hwaddr eq 00:16:3e:5d:28:7d', false, true],
    ['state.network.lo.mtu eq 65536', false, true],
    ['backups eq anything', false, false],
    ['backups ne anything', true, true],
    ['nonexistent eq x', false, false],
    ['nonexistent ne x', true, true],
    // Composition, from LXD's documentation and tests.
    ['name eq demo and status eq Running', true, true],
    ['name eq c2 or status eq Running', true, true],
    ['name eq c2 or name eq c3', false, false],
    ['not name eq c2', true, true],
    ['not name eq demo or status eq Running', true, true],
    ['not name ne demo', true, true],
    ['config.image.os eq busybox and expanded_devices.root.path eq /', true, true],
    ['config.image.os eq ubuntu or expanded_devices.eth0.type eq nic', true, true],
    ['name eq demo and state.status eq Running', false, true],
  ];

  it.each(cases)('%j → Instance %s, InstanceFull %s', (filter, onInstance, onFull) => {
    expect(matchFilter(instance, filter)).toBe(onInstance);
    expect(matchFilter(full, filter)).toBe(onFull);
  });
});

describe('evaluation order', () => {
  const subject = { name: 'c1' };
  const T = 'name eq c1';
  const F = 'name eq c2';

  // LXD folds left to right with no precedence; boolean algebra would bind `and` tighter.
  it.each<[string, boolean, boolean]>([
    // [filter, LXD's left fold, what and-before-or precedence would give]
    [`${T} or ${F} and ${F}`, false, true],
    [`${T} or ${T} and ${F}`, false, true],
    [`${F} and ${T} or ${T}`, true, true],
    [`${T} and ${F} or ${T}`, true, true],
    [`${F} or ${T} and ${T}`, true, true],
    [`${T} or ${F} and ${F} or ${T}`, true, true],
    [`${T} or ${T} and ${F} and ${T}`, false, true],
    [`not ${T} or ${T}`, true, true],
    [`${T} and not ${T}`, false, false],
    [`not ${F} and not ${F}`, true, true],
  ])('%s → %s (precedence would give %s)', (filter, expected) => {
    expect(matchFilter(subject, filter)).toBe(expected);
  });

  // Every combination of three clauses, negations and joins against a reference left fold.
  const combinations: [string, boolean][] = [];
  for (let bits = 0; bits < 1 << 11; bits++) {
    const bit = (n: number): boolean => (bits & (1 << n)) !== 0;
    const values = [bit(0), bit(1), bit(2)];
    const nots = [bit(3), bit(4), bit(5)];
    const ops = [bit(6) ? 'ne' : 'eq', bit(7) ? 'ne' : 'eq', bit(8) ? 'ne' : 'eq'];
    const joins = [bit(9) ? 'or' : 'and', bit(10) ? 'or' : 'and'];
    const words: string[] = [];
    let expected = true;
    values.forEach((value, index) => {
      const join = index === 0 ? 'and' : (joins[index - 1] ?? 'and');
      if (index > 0) words.push(join);
      if (nots[index]) words.push('not');
      words.push('name', ops[index] ?? 'eq', value ? 'c1' : 'c2');
      let clause = value;
      if (ops[index] === 'ne') clause = !clause;
      if (nots[index]) clause = !clause;
      expected = join === 'and' ? expected && clause : expected || clause;
    });
    combinations.push([words.join(' '), expected]);
  }

  it('folds every combination left to right', () => {
    for (const [filter, expected] of combinations) {
      expect(matchFilter(subject, filter), filter).toBe(expected);
    }
  });
});

describe('match-time errors', () => {
  const errors: [string, string][] = [
    [
      'ephemeral eq yes',
      'clause 1 (ephemeral eq yes) at offset 0: ephemeral needs a boolean (true or false), got "yes"',
    ],
    ['ephemeral eq tRuE', 'ephemeral needs a boolean'],
    ['status_code eq 103.0', 'status_code needs an integer, got "103.0"'],
    ['status_code eq running', 'status_code needs an integer'],
    [
      'state.pid eq ""',
      'clause 1 (state.pid eq "") at offset 0: state.pid needs an integer, got ""',
    ],
    [
      'profiles eq default',
      'profiles needs a JSON list of strings like ["default"], got "default"',
    ],
    ['profiles eq [1]', 'profiles needs a JSON list of strings'],
    ['config eq x', 'config is an object, which a filter cannot compare'],
    ['expanded_devices.eth0 eq nic', 'expanded_devices.eth0 is an object'],
    ['snapshots eq x', 'snapshots is a list of objects'],
    ['state.memory eq 1', 'state.memory is an object'],
    // Every clause is evaluated, whatever the earlier ones decided.
    ['name eq nomatch and ephemeral eq yes', 'clause 2 (ephemeral eq yes) at offset 20'],
    ['name eq demo or not ephemeral ne maybe', 'clause 2 (not ephemeral ne maybe) at offset 16'],
  ];

  it.each(errors)('%j', (filter, message) => {
    const error = thrownBy(() => matchFilter(full, filter));
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.field).toBe('filter');
    expect(error.message).toMatch(/^filter: /);
    expect(error.message).toContain(message);
  });

  it('matches a pathological pattern on a 100 kB value in linear time', () => {
    // The filter: JavaScript's backtracking RegExp stalled the server on it.
    const uuid = 'a'.repeat(100_000);
    const fleet = [
      { name: 'slow', config: { 'volatile.uuid': uuid } },
      { name: 'hit', config: { 'volatile.uuid': `${uuid}x` } },
    ];
    const kept = filterObjects(fleet, 'config.volatile.uuid eq .*.*.*.*.*.*.*.*x');
    expect(kept.map((item) => item.name)).toEqual(['hit']);
  });
});

describe('filterObjects', () => {
  const fleet: Json[] = [
    variant(full, { name: 'c1' }),
    variant(full, { name: 'c1-web', description: 'my box', config: { 'limits.cpu': '2' } }),
    variant(full, {
      name: 'c2',
      status: 'Stopped',
      status_code: 102,
      expanded_config: { 'security.nesting': 'true' },
      state: { status: 'Stopped', status_code: 102, pid: 0 },
    }),
    variant(full, {
      name: 'vm1',
      type: 'virtual-machine',
      ephemeral: true,
      profiles: ['default', 'gpu'],
    }),
  ];
  const names = (list: Json[]): unknown[] => list.map((item) => item.name);

  it.each<[string, string[]]>([
    ['', ['c1', 'c1-web', 'c2', 'vm1']],
    ['name eq c1', ['c1']],
    ['name eq c1.*', ['c1', 'c1-web']],
    ['name eq "c1"', ['c1']],
    ['name eq c1|c2', ['c1', 'c1-web', 'c2']],
    ['status eq running', ['c1', 'c1-web', 'vm1']],
    ['state.status eq stopped', ['c2']],
    ['state.pid eq 0', ['c2']],
    ['description eq "my box"', ['c1-web']],
    ['description eq "My Box"', ['c1-web']],
    ['config.limits.cpu eq 2', ['c1-web']],
    ['config.limits.cpu eq ""', ['c1', 'c2', 'vm1']],
    ['expanded_config.security.nesting eq true', ['c2']],
    ['ephemeral eq true', ['vm1']],
    ['type eq virtual-machine or name eq c2', ['c2', 'vm1']],
    ['profiles eq ["default","gpu"]', ['vm1']],
    ['not type eq container', ['vm1']],
    ['status_code eq 103 and not name eq c1.*', ['vm1']],
    // Left to right: (c1 or running) and ne vm1.
    ['name eq c1 or status eq running and name ne vm1', ['c1', 'c1-web']],
    ['name eq nothing', []],
  ])('%j → %j', (filter, expected) => {
    expect(names(filterObjects(fleet, filter))).toEqual(expected);
  });

  it('takes parsed clauses', () => {
    const clauses: FilterClause[] = parseFilter('type eq container and status eq Running');
    expect(names(filterObjects(fleet, clauses))).toEqual(['c1', 'c1-web']);
    expect(matchFilter(fleet[3] ?? {}, clauses)).toBe(false);
  });

  it('returns a new array even when the filter is empty', () => {
    const result = filterObjects(fleet, '  ');
    expect(result).toEqual(fleet);
    expect(result).not.toBe(fleet);
  });

  it('reports a syntax error even for an empty list', () => {
    const error = thrownBy(() => filterObjects([], 'name eq'));
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect(error.message).toContain('clause has no value');
  });

  it('works on typed objects without an index signature', () => {
    interface Box {
      name: string;
      ephemeral: boolean;
    }
    const boxes: Box[] = [
      { name: 'a', ephemeral: true },
      { name: 'b', ephemeral: false },
    ];
    const kept: Box[] = filterObjects(boxes, 'ephemeral eq true');
    expect(kept).toEqual([{ name: 'a', ephemeral: true }]);
  });
});
