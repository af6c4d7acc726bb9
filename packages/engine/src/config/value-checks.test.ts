import { describe, expect, it } from 'vitest';
import {
  isAbsolutePath,
  isEnvironmentName,
  isSingleLine,
  isBool,
  isFalseOrEmpty,
  isInt64,
  isInterfaceName,
  isListOf,
  isMac,
  isNetwork,
  isOctalMode,
  isTrue,
  isUint32,
  isUuid,
  optional,
  parseIPv4,
  parseIPv6,
  schemaOf,
  schemaProblem,
} from './value-checks';

describe('isBool / isTrue / isFalseOrEmpty (LXD IsBool, IsTrue)', () => {
  it.each(['true', 'false', 'TRUE', 'False', 'yes', 'no', 'on', 'off', 'On', '1', '0'])(
    'accepts %j',
    (value) => {
      expect(isBool(value)).toBeUndefined();
    },
  );
  it.each(['', 'maybe', 'x', '2', 't', ' true'])('refuses %j', (value) => {
    expect(isBool(value)).toBe(`Invalid value for a boolean ${JSON.stringify(value)}`);
  });
  it('reads true and false words', () => {
    expect(['true', 'YES', 'on', '1'].map(isTrue)).toEqual([true, true, true, true]);
    expect(['false', '', 'no', 'x', undefined].map(isTrue)).toEqual([
      false,
      false,
      false,
      false,
      false,
    ]);
    expect(['false', '', 'OFF', '0', undefined].map(isFalseOrEmpty)).toEqual([
      true,
      true,
      true,
      true,
      true,
    ]);
    expect(isFalseOrEmpty('true')).toBe(false);
  });
});

describe('integers', () => {
  it.each(['0', '-1', '+5', '9223372036854775807', '-9223372036854775808'])(
    'isInt64 accepts %j',
    (value) => {
      expect(isInt64(value)).toBeUndefined();
    },
  );
  it.each(['', 'abc', '1.5', '9223372036854775808', ' 1', '1e3', '0x10'])(
    'isInt64 refuses %j',
    (value) => {
      expect(isInt64(value)).toBe(`Invalid value for an integer ${JSON.stringify(value)}`);
    },
  );
  it.each(['0', '65536', '4294967295'])('isUint32 accepts %j', (value) => {
    expect(isUint32(value)).toBeUndefined();
  });
  it.each(['-1', '+1', '4294967296', 'x', ''])('isUint32 refuses %j', (value) => {
    expect(isUint32(value)).toContain('Invalid value for uint32');
  });
});

describe('addresses', () => {
  it.each([
    ['0.0.0.0', [0, 0, 0, 0]],
    ['10.0.3.1', [10, 0, 3, 1]],
    ['255.255.255.255', [255, 255, 255, 255]],
  ])('parseIPv4 %j', (value, bytes) => {
    expect(parseIPv4(value)).toEqual(bytes);
  });
  it.each(['256.0.0.1', '1.2.3', '1.2.3.4.5', '01.2.3.4', 'a.b.c.d', '', '1.2.3.4 '])(
    'parseIPv4 refuses %j',
    (value) => {
      expect(parseIPv4(value)).toBeUndefined();
    },
  );
  it.each([
    ['::', [0, 0, 0, 0, 0, 0, 0, 0]],
    ['::1', [0, 0, 0, 0, 0, 0, 0, 1]],
    ['fd42::1', [0xfd42, 0, 0, 0, 0, 0, 0, 1]],
    ['2001:db8:0:0:1:0:0:1', [0x2001, 0xdb8, 0, 0, 1, 0, 0, 1]],
    ['::ffff:10.0.0.1', [0, 0, 0, 0, 0, 0xffff, 0x0a00, 0x0001]],
    ['fe80::', [0xfe80, 0, 0, 0, 0, 0, 0, 0]],
  ])('parseIPv6 %j', (value, groups) => {
    expect(parseIPv6(value)).toEqual(groups);
  });
  it.each([
    '',
    ':',
    ':::',
    '1::2::3',
    '12345::',
    '1:2:3:4:5:6:7',
    '1:2:3:4:5:6:7:8:9',
    'g::1',
    '::1%eth0',
    '1:2:3:4:5:6:7::8',
  ])('parseIPv6 refuses %j', (value) => {
    expect(parseIPv6(value)).toBeUndefined();
  });
  it.each([
    [4, '10.0.0.0/24', undefined],
    [4, '0.0.0.0/0', undefined],
    [4, '10.0.0.1/32', undefined],
    [4, '10.0.0.1/24', 'Not an IPv4 network address "10.0.0.1/24"'],
    [4, '10.0.0.0/33', 'Not an IPv4 network "10.0.0.0/33"'],
    [4, '10.0.0.0', 'Not an IPv4 network "10.0.0.0"'],
    [4, 'fd00::/8', 'Not an IPv4 network "fd00::/8"'],
    [6, 'fd42::/64', undefined],
    [6, 'fd42::1/64', 'Not an IPv6 network address "fd42::1/64"'],
    [6, '10.0.0.0/8', 'Not an IPv6 network "10.0.0.0/8"'],
  ] as const)('isNetwork(%d) %j', (version, value, problem) => {
    expect(isNetwork(version)(value)).toBe(problem);
  });
  it('isListOf names the bad item', () => {
    expect(isListOf(isNetwork(4))('10.0.0.0/8, 10.1.0.1/16')).toBe(
      'Item "10.1.0.1/16": Not an IPv4 network address "10.1.0.1/16"',
    );
    expect(isListOf(isNetwork(4))('10.0.0.0/8,192.168.0.0/16')).toBeUndefined();
  });
  it.each([
    ['00:16:3e:00:00:01', undefined],
    ['AA:BB:CC:DD:EE:FF', undefined],
    ['00-16-3e-00-00-01', 'Invalid MAC address, must be 6 bytes of hex separated by colons'],
    ['0016.3e00.0001', 'Invalid MAC address, must be 6 bytes of hex separated by colons'],
    ['00:16:3e:00:00', 'Invalid MAC address, must be 6 bytes of hex separated by colons'],
  ])('isMac %j', (value, problem) => {
    expect(isMac(value)).toBe(problem);
  });
});

describe('names, modes, uuids', () => {
  it.each([
    ['eth0', undefined],
    ['br-lan.10', undefined],
    ['e', 'Network interface is too short (minimum 2 characters)'],
    ['abcdefghijklmnop', 'Network interface is too long (maximum 15 characters)'],
    ['eth 0', 'Network interface contains invalid characters'],
    ['eth/0', 'Network interface contains invalid characters'],
  ])('isInterfaceName %j', (value, problem) => {
    expect(isInterfaceName(value)).toBe(problem);
  });
  it.each([
    ['0660', undefined],
    ['755', undefined],
    ['7777', undefined],
    ['0', undefined],
    ['8', 'Invalid value for an octal file mode'],
    ['17777', 'Invalid value for an octal file mode'],
    ['rw', 'Invalid value for an octal file mode'],
  ])('isOctalMode %j', (value, problem) => {
    expect(isOctalMode(value)).toBe(problem);
  });
  it('isUuid', () => {
    expect(isUuid('0f9a3b26-5c9d-4f43-9b5e-2f3f8a0d5b11')).toBeUndefined();
    expect(isUuid('0f9a3b26')).toBe('Invalid UUID');
  });
});

describe('values written into a config file line', () => {
  it.each([
    ['plain', undefined],
    ['tabs\tand spaces', undefined],
    ['', undefined],
    ['a\nlxc.apparmor.profile = unconfined', 'Environment values cannot contain a line break'],
    ['a\r', 'Environment values cannot contain a line break'],
    ['a\0b', 'Environment values cannot contain a NUL byte'],
  ])('isSingleLine %j', (value, problem) => {
    expect(isSingleLine('Environment values')(value)).toBe(problem);
  });
  it.each([
    ['PATH', undefined],
    ['my.var-1', undefined],
    ['A=B', 'Environment variable names cannot contain "="'],
    [
      'A\nlxc.mount.entry',
      'Environment variable names cannot contain control characters (line breaks, NUL)',
    ],
    ['A\0', 'Environment variable names cannot contain control characters (line breaks, NUL)'],
    ['A\x1b[2J', 'Environment variable names cannot contain control characters (line breaks, NUL)'],
    ['A B', 'Environment variable names cannot contain whitespace'],
  ])('isEnvironmentName %j', (value, problem) => {
    expect(isEnvironmentName(value)).toBe(problem);
  });
  it('isAbsolutePath refuses line breaks', () => {
    expect(isAbsolutePath('/mnt/a\nb')).toBe('Path contains a line break');
    expect(isAbsolutePath('/mnt/a b')).toBeUndefined();
  });
});

describe('optional and schemaOf', () => {
  it('optional lets the empty string through', () => {
    expect(optional(isBool)('')).toBeUndefined();
    expect(optional(isBool)('x')).toBe('Invalid value for a boolean "x"');
  });
  it('schemaOf gives a zod schema whose first issue is the reason', () => {
    const schema = schemaOf(isBool);
    expect(schema.parse('yes')).toBe('yes');
    expect(schemaProblem(schema, 'maybe')).toBe('Invalid value for a boolean "maybe"');
    expect(schema.safeParse(3).success).toBe(false);
  });
});
