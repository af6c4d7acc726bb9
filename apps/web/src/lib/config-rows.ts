// Rows the config and devices editors edit, and their problems, checked
// against the engine's own key and device tables (`@berth/engine/config`,
// client-safe). Pure: the editors and their tests share it.
import { configProblems, deviceProblems, type InstanceType } from '@berth/engine/config';

export interface KeyValueRow {
  id: string;
  key: string;
  value: string;
}

let nextRowId = 0;
export function newRow(key = '', value = ''): KeyValueRow {
  nextRowId += 1;
  return { id: `r${nextRowId}`, key, value };
}

export function rowsFrom(
  config: Record<string, string>,
  skip?: (key: string) => boolean,
): KeyValueRow[] {
  return Object.entries(config)
    .filter(([k]) => !skip?.(k))
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => newRow(k, v));
}

export function configFrom(rows: readonly KeyValueRow[]): Record<string, string> {
  return Object.fromEntries(rows.filter((r) => r.key.trim()).map((r) => [r.key.trim(), r.value]));
}

export interface EditorOptions {
  /** A profile's config (no instance type; image.* and volatile.* not allowed). */
  profile: boolean;
  instanceType?: InstanceType;
}

/** Problems by row id: empty and duplicate keys, then the engine's verdict on each key. */
export function configRowProblems(
  rows: readonly KeyValueRow[],
  options: EditorOptions,
): Record<string, string> {
  const out: Record<string, string> = {};
  const seen = new Map<string, string>();
  for (const row of rows) {
    const key = row.key.trim();
    if (!key) {
      if (row.value) out[row.id] = 'Enter a key';
      continue;
    }
    if (seen.has(key)) out[row.id] = `"${key}" is set twice`;
    else seen.set(key, row.id);
  }
  const problems = configProblems(configFrom(rows), {
    profile: options.profile,
    expanded: false,
    allowVolatile: false,
    ...(options.instanceType ? { instanceType: options.instanceType } : {}),
  });
  for (const p of problems) {
    const id = seen.get(p.key);
    if (id) out[id] ??= p.reason;
  }
  return out;
}

/** `config["limits.cpu"]` (an engine error's field) → `limits.cpu`. */
export function configKeyOfField(field: string | null | undefined): string | null {
  const m = /^(?:put\.|profile\.)?config\["((?:[^"\\]|\\.)*)"\]$/.exec(field ?? '');
  return m ? m[1]!.replace(/\\(.)/g, '$1') : null;
}

/** `devices["eth0"]["mtu"]` → `['eth0', 'mtu']`; `devices["eth0"]` → `['eth0', null]`. */
export function deviceOfField(field: string | null | undefined): [string, string | null] | null {
  const m = /^(?:put\.|profile\.)?devices\["((?:[^"\\]|\\.)*)"\](?:\["((?:[^"\\]|\\.)*)"\])?$/.exec(
    field ?? '',
  );
  return m ? [m[1]!, m[2] ?? null] : null;
}

export interface DeviceDraft {
  id: string;
  name: string;
  type: string;
  rows: KeyValueRow[];
}

export function devicesFrom(devices: Record<string, Record<string, string>>): DeviceDraft[] {
  return Object.entries(devices)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, { type = 'none', ...rest }]) => ({
      id: newRow().id,
      name,
      type,
      rows: rowsFrom(rest),
    }));
}

export function devicesOf(drafts: readonly DeviceDraft[]): Record<string, Record<string, string>> {
  return Object.fromEntries(
    drafts
      .filter((d) => d.name.trim())
      .map((d) => [d.name.trim(), { type: d.type, ...configFrom(d.rows) }]),
  );
}

/** Problems by device name, then key ('' for the device as a whole). */
export function deviceDraftProblems(
  drafts: readonly DeviceDraft[],
  options: EditorOptions,
): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  const add = (device: string, key: string, reason: string) => {
    (out[device] ??= {})[key] ??= reason;
  };
  const names = new Set<string>();
  for (const d of drafts) {
    const name = d.name.trim();
    if (!name) add('', '', 'Every device needs a name');
    else if (names.has(name)) add(name, '', `Device "${name}" is defined twice`);
    names.add(name);
  }
  for (const p of deviceProblems(devicesOf(drafts), {
    profile: options.profile,
    expanded: false,
    ...(options.instanceType ? { instanceType: options.instanceType } : {}),
  }))
    add(p.device, p.key ?? '', p.reason);
  return out;
}
