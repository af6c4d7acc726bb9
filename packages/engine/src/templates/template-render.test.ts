import { describe, expect, it } from 'vitest';
import { TemplateSyntaxError } from './template-error.ts';
import { templateContext, type TemplateInstance } from './template-context.ts';
import { renderTemplate } from './template-render.ts';
import { TemplateFunction, toTemplateValue, type TemplateMap } from './template-values.ts';

const c1: TemplateInstance = {
  name: 'c1',
  type: 'container',
  architecture: 'x86_64',
  ephemeral: false,
  expandedConfig: {
    'user.meta-data': 'foo: bar\r\n',
    'user.network_mode': 'link-local',
    'security.privileged': 'true',
    'image.os': 'busybox',
  },
  expandedDevices: { eth0: { type: 'nic', network: 'berthbr0', name: 'eth0' } },
};

const ctx = (
  instance: Partial<TemplateInstance> = {},
  properties: Record<string, string> = {},
  trigger: 'create' | 'copy' | 'rename' | 'start' = 'create',
) => templateContext({ ...c1, ...instance }, trigger, '/etc/hostname', properties);

const vars = (values: Record<string, unknown>): TemplateMap =>
  toTemplateValue(values) as TemplateMap;

function lineOf(run: () => unknown): { line: number; message: string } {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(TemplateSyntaxError);
    return { line: (error as TemplateSyntaxError).line, message: (error as Error).message };
  }
  throw new Error('expected a template error');
}

describe('LXD and distrobuilder templates', () => {
  it('renders the hostname and hosts templates of LXD images', () => {
    expect(renderTemplate('{{ container.name }}\n', ctx())).toBe('c1\n');
    expect(renderTemplate('{{ instance.name }}\n', ctx({ name: 'web-2' }))).toBe('web-2\n');
    expect(renderTemplate('127.0.0.1 localhost\n127.0.1.1 {{ container.name }}\n', ctx())).toBe(
      '127.0.0.1 localhost\n127.0.1.1 c1\n',
    );
  });

  it("renders distrobuilder's cloud-init meta-data (config_get trims the trailing CR/LF)", () => {
    const tpl =
      'instance-id: {{ container.name }}\nlocal-hostname: {{ container.name }}\n{{ config_get("user.meta-data", "") }}\n';
    expect(renderTemplate(tpl, ctx())).toBe('instance-id: c1\nlocal-hostname: c1\nfoo: bar\n');
  });

  it("renders the older network-config template's branches", () => {
    const tpl = `{% if config_get("user.network-config", "") == "" %}version: 1
config:
  - type: physical
    name: {% if instance.type == "virtual-machine" %}enp5s0{% else %}eth0{% endif %}
    subnets:
      - type: {% if config_get("user.network_mode", "") == "link-local" %}manual{% else %}dhcp{% endif %}
        control: auto{% else %}{{ config_get("user.network-config", "") }}{% endif %}
`;
    expect(renderTemplate(tpl, ctx())).toBe(`version: 1
config:
  - type: physical
    name: eth0
    subnets:
      - type: manual
        control: auto
`);
    const vm = ctx({
      type: 'virtual-machine',
      expandedConfig: {},
    });
    expect(renderTemplate(tpl, vm)).toContain('name: enp5s0\n');
    expect(renderTemplate(tpl, vm)).toContain('type: dhcp\n');
    const own = ctx({ expandedConfig: { 'user.network-config': 'version: 2\n' } });
    expect(renderTemplate(tpl, own)).toBe('version: 2\n');
  });

  it('renders the current user-data template with {%- -%} trimming and properties.default', () => {
    const tpl = `{%- if config_get("cloud-init.user-data", properties.default) == properties.default -%}
{{ config_get("user.user-data", properties.default) }}
{%- else -%}
{{- config_get("cloud-init.user-data", properties.default) }}
{%- endif %}
`;
    const properties = { default: '#cloud-config\n{}' };
    expect(renderTemplate(tpl, ctx({ expandedConfig: {} }, properties))).toBe(
      '#cloud-config\n{}\n',
    );
    expect(
      renderTemplate(
        tpl,
        ctx({ expandedConfig: { 'user.user-data': '#cloud-config\nx: 1' } }, properties),
      ),
    ).toBe('#cloud-config\nx: 1\n');
    expect(
      renderTemplate(
        tpl,
        ctx({ expandedConfig: { 'cloud-init.user-data': '#cloud-config\ny: 2\n' } }, properties),
      ),
    ).toBe('#cloud-config\ny: 2\n');
  });

  it('renders the current network-config template (nested trimmed ifs)', () => {
    const tpl = `{%- if config_get("cloud-init.network-config", "") == "" -%}
{%- if config_get("user.network-config", "") == "" -%}
version: 1
config:
  - type: physical
    name: {% if instance.type == "virtual-machine" %}enp5s0{% else %}eth0{% endif %}
    subnets:
      - type: dhcp
        control: auto
{%- else -%}
{{- config_get("user.network-config", "") -}}
{%- endif -%}
{%- else -%}
{{- config_get("cloud-init.network-config", "") -}}
{%- endif %}
`;
    expect(renderTemplate(tpl, ctx({ expandedConfig: {} }))).toBe(
      'version: 1\nconfig:\n  - type: physical\n    name: eth0\n    subnets:\n      - type: dhcp\n        control: auto\n',
    );
    expect(
      renderTemplate(tpl, ctx({ expandedConfig: { 'cloud-init.network-config': 'version: 2' } })),
    ).toBe('version: 2\n');
  });

  it('exposes the instance fields as LXD does (strings), trigger, path, config and devices', () => {
    const tpl =
      '{{ instance.type }} {{ instance.architecture }} {{ instance.ephemeral }} {{ container.privileged }} {{ trigger }} {{ path }} {{ devices.eth0.network }}';
    expect(renderTemplate(tpl, ctx({}, {}, 'copy'))).toBe(
      'container x86_64 false true copy /etc/hostname berthbr0',
    );
    const vm = templateContext({ ...c1, type: 'virtual-machine' }, 'start', '/x', {});
    expect(renderTemplate('[{{ instance.privileged }}]{{ instance.type }}', vm)).toBe(
      '[]virtual-machine',
    );
    expect(
      renderTemplate(
        '{{ config_get("image.os", "none") }}/{{ config_get("nope", "none") }}',
        ctx(),
      ),
    ).toBe('busybox/none');
  });

  it('filters apply to a call', () => {
    expect(renderTemplate('{{ config_get("user.x", "")|default:"fallback" }}', ctx())).toBe(
      'fallback',
    );
    expect(renderTemplate('{{ config_get("image.os", "")|upper }}', ctx())).toBe('BUSYBOX');
  });

  it('config_get gives its default as given (a missing key with a non-string default)', () => {
    expect(renderTemplate('{{ config_get("nope", 5) }}', ctx())).toBe('5');
    expect(renderTemplate('{% if config_get("nope", false) %}y{% else %}n{% endif %}', ctx())).toBe(
      'n',
    );
    expect(renderTemplate('{{ config_get("security.privileged", "false") }}', ctx())).toBe('true');
  });
});

describe('expressions', () => {
  const v = vars({
    s: 'abc',
    empty: '',
    n: 3,
    zero: 0,
    list: ['a', 'b', 'c'],
    map: { k: 'v', 'dotted.key': 'x' },
    t: true,
    f: false,
  });

  it.each([
    ['{{ "x" }}', 'x'],
    ["{{ 'x' }}", 'x'],
    ['{{ "say \\"hi\\" \\\\ " }}', 'say "hi" \\ '],
    ['{{ 42 }}', '42'],
    ['{{ 1.5 }}', '1.500000'],
    ['{{ true }}|{{ false }}', 'True|False'],
    ['{{ missing }}|{{ missing.deeper.still }}', '|'],
    ['{{ list.1 }}{{ s.0 }}{{ list.9 }}', 'ba'],
    ['{{ map.k }}', 'v'],
    ['{{ n + 2 }} {{ n - 5 }} {{ n * 2 }} {{ -n }}', '5 -2 6 -3'],
    ['{{ "a" + "b" }}', '0'],
    ['{{ not zero }} {{ not n }} {{ not empty }} {{ not s }}', '1 0 True False'],
    ['{{ s == "abc" }} {{ s != "abc" }} {{ s <> "x" }}', 'True False True'],
    ['{{ n == 3 }} {{ n == "3" }} {{ missing == missing }}', 'True False True'],
    [
      '{{ n > 2 }} {{ n < 2 }} {{ n >= 3 }} {{ n <= 2 }} {{ "10" > 9 }}',
      'True False True False True',
    ],
    ['{{ "b" in s }} {{ "k" in map }} {{ "b" in list }} {{ "z" in list }}', 'True True True False'],
    ['{{ t and f }} {{ t or f }} {{ t && t }} {{ f || f }}', 'False True True False'],
    ['{{ (t or f) and f }}', 'False'],
    ['{{ list }} {{ map }}', '[a b c] map[dotted.key:x k:v]'],
  ])('%s', (tpl, out) => {
    expect(renderTemplate(tpl, v)).toBe(out);
  });

  it('nests and/or and not as pongo2 does (right-recursive; not binds to the operand)', () => {
    // pongo2: `f and f or t` is `f and (f or t)`.
    expect(renderTemplate('{{ f and f or t }}', v)).toBe('False');
    // `not zero == 1` is `(not zero) == 1`: not 0 is the integer 1.
    expect(renderTemplate('{{ not zero == 1 }}', v)).toBe('True');
    expect(renderTemplate('{% if not s == "" %}y{% else %}n{% endif %}', v)).toBe('n');
  });

  it.each([
    ['{{ empty|default:"none" }}', 'none'],
    ['{{ s|default:"none" }}', 'abc'],
    ['{{ missing|default:map.k }}', 'v'],
    [
      '{{ zero|default:"z" }}|{{ zero|default_if_none:"z" }}|{{ missing|default_if_none:"z" }}',
      'z|0|z',
    ],
    ['{{ "MiXed"|lower }} {{ "MiXed"|upper }}', 'mixed MIXED'],
    ['{{ s|upper|lower }}', 'abc'],
    ['{{ "hello world"|title }} {{ s|capfirst }}', 'Hello World Abc'],
    ['{{ list|length }} {{ s|length }} {{ map|length }} {{ missing|length }}', '3 3 2 0'],
    ['{{ list|join:", " }} {{ list|first }} {{ list|last }}', 'a, b, c a c'],
    ['{{ "a<b>&\\"c"|escape }}', 'a&lt;b&gt;&amp;&quot;c'],
    ['{{ t|yesno:"on,off" }} {{ f|yesno }}', 'on no'],
    ['{{ "a-b-c"|cut:"-" }} {{ "x"|add:"y" }} {{ n|add:1 }}', 'abc xy 4'],
  ])('filter %s', (tpl, out) => {
    expect(renderTemplate(tpl, v)).toBe(out);
  });
});

describe('tags', () => {
  const v = vars({
    list: ['a', 'b', 'c'],
    map: { b: '2', a: '1' },
    none: [],
    x: 'two',
  });

  it('if / elif / else', () => {
    const tpl = '{% if x == "one" %}1{% elif x == "two" %}2{% elif x %}?{% else %}-{% endif %}';
    expect(renderTemplate(tpl, v)).toBe('2');
    expect(renderTemplate(tpl, vars({ x: 'three' }))).toBe('?');
    expect(renderTemplate(tpl, vars({}))).toBe('-');
    expect(renderTemplate('{% if x %}{% if list %}both{% endif %}{% endif %}', v)).toBe('both');
  });

  it('for over lists, maps (sorted keys, with values), strings; empty; forloop', () => {
    expect(
      renderTemplate(
        '{% for i in list %}{{ forloop.counter }}{{ i }}{% if not forloop.last %},{% endif %}{% endfor %}',
        v,
      ),
    ).toBe('1a,2b,3c');
    expect(renderTemplate('{% for k, val in map %}{{ k }}={{ val }};{% endfor %}', v)).toBe(
      'a=1;b=2;',
    );
    expect(renderTemplate('{% for k in map %}{{ k }}{% endfor %}', v)).toBe('ab');
    expect(renderTemplate('{% for c in "xyz" reversed %}{{ c }}{% endfor %}', v)).toBe('zyx');
    expect(renderTemplate('{% for i in none %}x{% empty %}nothing{% endfor %}', v)).toBe('nothing');
    expect(renderTemplate('{% for i in missing %}x{% empty %}nothing{% endfor %}', v)).toBe(
      'nothing',
    );
    expect(
      renderTemplate(
        '{% for i in list %}{% for j in list %}{% if forloop.First %}{{ forloop.Parentloop.Counter0 }}{% endif %}{% endfor %}{% endfor %}',
        v,
      ),
    ).toBe('012');
    expect(renderTemplate('{% for i in list %}{{ i }}{% endfor %}{{ i }}', v)).toBe('abc');
  });

  it('iterates the devices map of the context', () => {
    const tpl =
      '{% for name, dev in devices sorted %}{% if dev.type == "nic" %}{{ name }} on {{ dev.network }}\n{% endif %}{% endfor %}';
    expect(
      renderTemplate(
        tpl,
        ctx({
          expandedDevices: {
            root: { type: 'disk', path: '/' },
            eth1: { type: 'nic', network: 'b1' },
            eth0: { type: 'nic', network: 'b0' },
          },
        }),
      ),
    ).toBe('eth0 on b0\neth1 on b1\n');
  });

  it('set, comments, autoescape off, whitespace control', () => {
    expect(renderTemplate('{% set y = x|upper %}{{ y }}', v)).toBe('TWO');
    expect(
      renderTemplate('a{# a comment #}b{% comment %}{{ not rendered }}{% endcomment %}c', v),
    ).toBe('abc');
    expect(renderTemplate('{% autoescape off %}<{{ x }}>{% endautoescape %}', v)).toBe('<two>');
    expect(renderTemplate('a  \n {{- x -}} \n  b', v)).toBe('atwob');
    expect(renderTemplate('a \n{%- if x -%}\n b {%- endif %}', v)).toBe('ab');
  });

  it('leaves text with lone braces alone', () => {
    expect(renderTemplate('{ "json": {} } {x} %}', v)).toBe('{ "json": {} } {x} %}');
  });
});

describe('safety', () => {
  it('never reaches JavaScript prototypes or methods', () => {
    const v = ctx();
    for (const tpl of [
      '{{ config.constructor }}',
      '{{ config.__proto__ }}',
      '{{ instance.toString }}',
      '{{ container.name.length }}',
      '{{ properties.hasOwnProperty }}',
      '{{ constructor }}',
      '{{ __proto__ }}',
      '{{ devices.eth0.constructor.name }}',
    ]) {
      expect(renderTemplate(tpl, v), tpl).toBe('');
    }
    expect(lineOf(() => renderTemplate('{{ config.constructor("x") }}', v)).message).toContain(
      'is not a function',
    );
    expect(lineOf(() => renderTemplate('{{ instance.name() }}', v)).message).toContain(
      '"instance.name" is not a function',
    );
  });

  it('keeps config keys named like prototype members as plain data', () => {
    const v = ctx({
      expandedConfig: { constructor: 'c', __proto__: 'p' } as Record<string, string>,
    });
    expect(
      renderTemplate('{{ config_get("constructor", "") }}|{{ config_get("toString", "d") }}', v),
    ).toBe('c|d');
  });

  it('bounds the output and the work', () => {
    const v = vars({ big: Array.from({ length: 2000 }, (_, i) => i) });
    expect(
      lineOf(() =>
        renderTemplate(
          '{% for a in big %}\n{% for b in big %}xxxxxxxxxxxx{% endfor %}{% endfor %}',
          v,
        ),
      ).message,
    ).toMatch(/larger than 1048576 bytes/);
    expect(
      lineOf(() =>
        renderTemplate(
          '{% for a in big %}{% for b in big %}{% for c in big %}{% endfor %}{% endfor %}{% endfor %}',
          v,
          {
            maxOutputBytes: 1024,
            maxSteps: 100_000,
          },
        ),
      ).message,
    ).toMatch(/more than 100000 steps/);
    expect(lineOf(() => renderTemplate('x'.repeat(300 * 1024), v)).message).toMatch(/larger than/);
  });

  it('bounds nesting (no stack overflow on hostile input)', () => {
    expect(
      lineOf(() => renderTemplate(`{{ ${'('.repeat(5000)}1${')'.repeat(5000)} }}`, vars({})))
        .message,
    ).toMatch(/nested too deeply/);
    expect(lineOf(() => renderTemplate('{% if 1 %}'.repeat(200), vars({}))).message).toMatch(
      /nested too deeply/,
    );
  });

  it('checks function arity', () => {
    expect(lineOf(() => renderTemplate('{{ config_get("a") }}', ctx())).message).toBe(
      'config_get() takes 2 arguments, got 1',
    );
    const f = new Map([['f', new TemplateFunction('f', 0, () => 'called')]]);
    expect(renderTemplate('{{ f() }}', f)).toBe('called');
  });
});

describe('errors name the line', () => {
  it.each([
    [
      'line 1\nline 2 {% include "x" %}',
      2,
      /the tag "include" is not supported.*may not read other files/,
    ],
    ['{% extends "base" %}', 1, /"extends" is not supported/],
    ['a\nb\n{% macro m() %}{% endmacro %}', 3, /"macro" is not supported/],
    ['\n{{ x|truncatechars:3 }}', 2, /the filter "truncatechars" is not supported/],
    ['{% if x %}\nno end', 1, /\{% if %\} is not closed/],
    ['{% for x in y %}', 1, /\{% for %\} is not closed/],
    ['x\n{% endif %}', 2, /\{% endif %\} without its opening tag/],
    ['{% else %}', 1, /without its opening tag/],
    ['{{ x', 1, /is not closed/],
    ['{{ x\n}}', 1, /newline is not allowed/],
    ['{{ "abc }}', 1, /string is not closed/],
    ["{{ 'a\\n' }}", 1, /unknown escape sequence/],
    ['{# a\n #}', 1, /one line/],
    ['\n\n{{ x / 2 }}', 3, /operator "\/" is not supported/],
    ['{{ }}', 1, /needs an expression/],
    ['{% if %}{% endif %}', 1, /needs a condition/],
    ['{{ x y }}', 1, /unexpected "y"/],
    ['{{ x| }}', 1, /filter name/],
    ['{% autoescape on %}{% endautoescape %}', 1, /only \{% autoescape off %\}/],
    ['{% for in x %}{% endfor %}', 1, /loop variable/],
    ['{% endfor extra %}', 1, /without its opening tag/],
    ['{{ a.( }}', 1, /expected a name after "\."/],
    ['{{ f(1 2) }}', 1, /"," or "\)"/],
    ['{{ -"a" }}', 1, /negative sign/],
    ['{% %}', 1, /needs a name/],
    ['{{ ~ }}', 1, /unexpected character "~"/],
  ])('%j → line %i', (tpl, line, message) => {
    const error = lineOf(() => renderTemplate(tpl, vars({ x: 1, y: [] })));
    expect(error.message).toMatch(message);
    expect(error.line).toBe(line);
  });
});
