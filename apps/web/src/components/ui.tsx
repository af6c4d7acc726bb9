'use client';
import {
  useEffect,
  useRef,
  type ButtonHTMLAttributes,
  type InputHTMLAttributes,
  type ReactNode,
} from 'react';

const variants = {
  primary: 'bg-sky-600 text-white hover:bg-sky-700 disabled:bg-sky-600/50',
  secondary:
    'border border-slate-300 bg-white text-slate-800 hover:bg-slate-50 dark:border-slate-700 dark:bg-slate-900 dark:text-slate-100 dark:hover:bg-slate-800',
  danger:
    'border border-red-300 text-red-700 hover:bg-red-50 dark:border-red-800 dark:text-red-300 dark:hover:bg-red-950',
} as const;

export function Button({
  variant = 'secondary',
  className = '',
  ...props
}: ButtonHTMLAttributes<HTMLButtonElement> & { variant?: keyof typeof variants }) {
  return (
    <button
      type="button"
      className={`inline-flex items-center gap-1 rounded-md px-3 py-1.5 text-sm font-medium disabled:cursor-not-allowed disabled:opacity-60 ${variants[variant]} ${className}`}
      {...props}
    />
  );
}

const statusColours: Record<string, string> = {
  Running: 'bg-emerald-100 text-emerald-800 dark:bg-emerald-900/50 dark:text-emerald-200',
  Stopped: 'bg-slate-100 text-slate-700 dark:bg-slate-800 dark:text-slate-300',
  Frozen: 'bg-sky-100 text-sky-800 dark:bg-sky-900/50 dark:text-sky-200',
  Error: 'bg-red-100 text-red-800 dark:bg-red-900/50 dark:text-red-200',
  Success: 'bg-emerald-100 text-emerald-800 dark:bg-emerald-900/50 dark:text-emerald-200',
  Failure: 'bg-red-100 text-red-800 dark:bg-red-900/50 dark:text-red-200',
};

export function StatusBadge({ status }: { status: string }) {
  return (
    <span
      className={`rounded-full px-2 py-0.5 text-xs font-medium ${statusColours[status] ?? 'bg-amber-100 text-amber-800 dark:bg-amber-900/50 dark:text-amber-200'}`}
    >
      {status}
    </span>
  );
}

export function ErrorBanner({
  message,
  testId,
}: {
  message: string | null | undefined;
  testId?: string;
}) {
  if (!message) return null;
  return (
    <p
      role="alert"
      data-testid={testId}
      className="rounded-md border border-red-300 bg-red-50 px-3 py-2 text-sm text-red-800 dark:border-red-800 dark:bg-red-950 dark:text-red-200"
    >
      {message}
    </p>
  );
}

export function PageHeader({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="mb-4 flex flex-wrap items-center justify-between gap-3">
      <h1 className="text-xl font-semibold">{title}</h1>
      <div className="flex flex-wrap items-center gap-2">{children}</div>
    </div>
  );
}

export const inputClass =
  'w-full rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm dark:border-slate-700 dark:bg-slate-900';

/** A ref for a `<dialog>` that is shown as a modal while `open` holds. */
export function useModalDialog(open: boolean) {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const el = dialog.current;
    if (!el) return;
    if (open && !el.open) el.showModal();
    if (!open && el.open) el.close();
  }, [open]);
  return dialog;
}

/** A labelled input with the error that names it underneath. */
export function TextField({
  label,
  error,
  className = '',
  ...input
}: { label: ReactNode; error?: string | null } & InputHTMLAttributes<HTMLInputElement>) {
  return (
    <label className="block space-y-1 text-sm">
      <span>{label}</span>
      <input
        {...input}
        aria-invalid={error ? true : undefined}
        className={`${inputClass} ${className}`}
      />
      {error && <span className="text-red-600 dark:text-red-400">{error}</span>}
    </label>
  );
}

export const tableClass =
  'w-full border-collapse text-left text-sm [&_td]:border-t [&_td]:border-slate-200 [&_td]:px-2 [&_td]:py-2 dark:[&_td]:border-slate-800 [&_th]:px-2 [&_th]:py-2 [&_th]:font-medium [&_th]:text-slate-500';

export function formatDate(timestamp: string): string {
  if (!timestamp || timestamp.startsWith('0001-') || timestamp.startsWith('1970-01-01T00:00:00'))
    return '—';
  return new Date(timestamp).toLocaleString();
}
