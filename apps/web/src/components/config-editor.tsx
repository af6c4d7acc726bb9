'use client';
// Config and devices editors for instances and profiles. Every key is checked
// as you type against the engine's own key and device tables
// (`@berth/engine/config`, client-safe); what only the server can judge
// (project limits, networks) comes back from saving under the same field.
import { useId, useMemo } from 'react';
import {
  configKeyHints,
  deviceKeyHints,
  DEVICE_TYPES,
  type DeviceType,
} from '@berth/engine/config';
import {
  configRowProblems,
  deviceDraftProblems,
  newRow,
  type DeviceDraft,
  type EditorOptions,
  type KeyValueRow,
} from '~/lib/config-rows.ts';
import { Button, inputClass } from './ui.tsx';

export function ConfigEditor({
  label,
  rows,
  onChange,
  options,
  serverErrors = {},
}: {
  label: string;
  rows: KeyValueRow[];
  onChange(rows: KeyValueRow[]): void;
  options: EditorOptions;
  /** Errors from saving, by key. */
  serverErrors?: Record<string, string>;
}) {
  const listId = useId();
  const hints = useMemo(
    () =>
      configKeyHints(
        options.profile || !options.instanceType ? {} : { instanceType: options.instanceType },
      ),
    [options.profile, options.instanceType],
  );
  const hintOf = (key: string) =>
    hints.find((h) => h.key === key) ??
    hints.find((h) => h.key.endsWith('*') && key.startsWith(h.key.slice(0, -1)));
  const problems = configRowProblems(rows, options);
  const update = (id: string, change: Partial<KeyValueRow>) =>
    onChange(rows.map((r) => (r.id === id ? { ...r, ...change } : r)));

  return (
    <fieldset className="space-y-2" aria-label={label}>
      <datalist id={listId}>
        {hints.map((h) => (
          <option key={h.key} value={h.key}>
            {h.description}
          </option>
        ))}
      </datalist>
      {rows.length === 0 && <p className="text-sm text-slate-500">No keys set here.</p>}
      {rows.map((row, index) => {
        const error = problems[row.id] ?? serverErrors[row.key.trim()];
        const hint = hintOf(row.key.trim());
        const errorId = `${listId}-${row.id}-error`;
        return (
          <div
            key={row.id}
            data-config-row={row.key}
            className="grid grid-cols-[minmax(12rem,1fr)_2fr_auto] gap-2"
          >
            <input
              aria-label={`Key ${index + 1}`}
              list={listId}
              value={row.key}
              placeholder="limits.cpu"
              onChange={(e) => update(row.id, { key: e.target.value })}
              className={`${inputClass} font-mono`}
            />
            <input
              aria-label={row.key ? `Value of ${row.key}` : `Value ${index + 1}`}
              value={row.value}
              placeholder={hint?.default ?? ''}
              aria-invalid={error ? true : undefined}
              aria-describedby={error ? errorId : undefined}
              onChange={(e) => update(row.id, { value: e.target.value })}
              className={`${inputClass} font-mono aria-invalid:border-red-500`}
            />
            <Button
              aria-label={`Remove ${row.key || `key ${index + 1}`}`}
              onClick={() => onChange(rows.filter((r) => r.id !== row.id))}
            >
              Remove
            </Button>
            {(error || hint) && (
              <p
                id={error ? errorId : undefined}
                role={error ? 'alert' : undefined}
                data-field-error={error ? row.key : undefined}
                className={`col-span-3 -mt-1 text-xs ${error ? 'text-red-600 dark:text-red-400' : 'text-slate-500'}`}
              >
                {error ??
                  `${hint!.description}${hint!.liveUpdate ? '' : ' (applies at next start)'}`}
              </p>
            )}
          </div>
        );
      })}
      <Button onClick={() => onChange([...rows, newRow()])}>Add key</Button>
    </fieldset>
  );
}

export function DevicesEditor({
  drafts,
  onChange,
  options,
  serverErrors = {},
}: {
  drafts: DeviceDraft[];
  onChange(drafts: DeviceDraft[]): void;
  options: EditorOptions;
  serverErrors?: Record<string, Record<string, string>>;
}) {
  const problems = deviceDraftProblems(drafts, options);
  const update = (id: string, change: Partial<DeviceDraft>) =>
    onChange(drafts.map((d) => (d.id === id ? { ...d, ...change } : d)));
  return (
    <div className="space-y-3">
      {drafts.length === 0 && <p className="text-sm text-slate-500">No devices set here.</p>}
      {drafts.map((d, index) => {
        const name = d.name.trim();
        const errors = { ...(serverErrors[name] ?? {}), ...(problems[name] ?? {}) };
        const known = (DEVICE_TYPES as readonly string[]).includes(d.type);
        const hints = known ? deviceKeyHints(d.type as DeviceType) : [];
        const keyErrors = Object.entries(errors).filter(([k]) => k && k !== 'type');
        const deviceError = errors[''] ?? errors.type;
        return (
          <fieldset
            key={d.id}
            data-device={name}
            aria-label={`Device ${name || index + 1}`}
            className="space-y-2 rounded-md border border-slate-200 p-3 dark:border-slate-800"
          >
            <div className="flex flex-wrap items-center gap-2">
              <input
                aria-label={`Device ${index + 1} name`}
                value={d.name}
                placeholder="eth0"
                onChange={(e) => update(d.id, { name: e.target.value })}
                className={`${inputClass} max-w-48 font-mono`}
              />
              <select
                aria-label={`Device ${index + 1} type`}
                value={d.type}
                onChange={(e) => update(d.id, { type: e.target.value })}
                className={`${inputClass} max-w-40`}
              >
                {!known && <option value={d.type}>{d.type}</option>}
                {DEVICE_TYPES.map((t) => (
                  <option key={t}>{t}</option>
                ))}
              </select>
              <Button
                variant="danger"
                aria-label={`Remove device ${name || index + 1}`}
                onClick={() => onChange(drafts.filter((x) => x.id !== d.id))}
              >
                Remove device
              </Button>
              {hints.length > 0 && (
                <span className="text-xs text-slate-500">
                  keys: {hints.map((h) => `${h.key}${h.required ? '*' : ''}`).join(', ')}
                </span>
              )}
            </div>
            {deviceError && (
              <p role="alert" className="text-xs text-red-600 dark:text-red-400">
                {deviceError}
              </p>
            )}
            <ConfigRowsPlain
              rows={d.rows}
              onChange={(rows) => update(d.id, { rows })}
              device={name || `${index + 1}`}
              errors={Object.fromEntries(keyErrors)}
              hints={hints.map((h) => ({ key: h.key, description: h.description }))}
            />
          </fieldset>
        );
      })}
      <Button
        onClick={() => onChange([...drafts, { id: newRow().id, name: '', type: 'disk', rows: [] }])}
      >
        Add device
      </Button>
    </div>
  );
}

/** Key/value rows of one device; errors by key come from the device table. */
function ConfigRowsPlain({
  rows,
  onChange,
  device,
  errors,
  hints,
}: {
  rows: KeyValueRow[];
  onChange(rows: KeyValueRow[]): void;
  device: string;
  errors: Record<string, string>;
  hints: { key: string; description: string }[];
}) {
  const listId = useId();
  const update = (id: string, change: Partial<KeyValueRow>) =>
    onChange(rows.map((r) => (r.id === id ? { ...r, ...change } : r)));
  const shown = new Set<string>();
  return (
    <div className="space-y-2">
      <datalist id={listId}>
        {hints.map((h) => (
          <option key={h.key} value={h.key}>
            {h.description}
          </option>
        ))}
      </datalist>
      {rows.map((row) => {
        const key = row.key.trim();
        shown.add(key);
        const error = errors[key];
        return (
          <div key={row.id} className="grid grid-cols-[minmax(10rem,1fr)_2fr_auto] gap-2">
            <input
              aria-label={`${device} key`}
              list={listId}
              value={row.key}
              onChange={(e) => update(row.id, { key: e.target.value })}
              className={`${inputClass} font-mono`}
            />
            <input
              aria-label={`${device} ${key || 'value'}`}
              value={row.value}
              aria-invalid={error ? true : undefined}
              onChange={(e) => update(row.id, { value: e.target.value })}
              className={`${inputClass} font-mono aria-invalid:border-red-500`}
            />
            <Button
              aria-label={`Remove ${device} ${key}`}
              onClick={() => onChange(rows.filter((r) => r.id !== row.id))}
            >
              Remove
            </Button>
            {error && (
              <p role="alert" className="col-span-3 -mt-1 text-xs text-red-600 dark:text-red-400">
                {error}
              </p>
            )}
          </div>
        );
      })}
      {/* A required key that has no row yet. */}
      {Object.entries(errors)
        .filter(([k]) => !shown.has(k))
        .map(([k, reason]) => (
          <p key={k} role="alert" className="text-xs text-red-600 dark:text-red-400">
            {k}: {reason}
          </p>
        ))}
      <Button onClick={() => onChange([...rows, newRow()])}>Add {device} key</Button>
    </div>
  );
}
