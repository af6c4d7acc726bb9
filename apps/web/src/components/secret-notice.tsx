'use client';
import { useState } from 'react';
import { Button } from './ui.tsx';

/** A secret shown once (a generated password, a new API token), with copy and dismiss. */
export function SecretNotice({
  title,
  secret,
  note,
  onDismiss,
}: {
  title: string;
  secret: string;
  note: string;
  onDismiss(): void;
}) {
  const [copied, setCopied] = useState(false);
  return (
    <section
      role="status"
      aria-label={title}
      className="mb-4 space-y-2 rounded-md border border-amber-300 bg-amber-50 px-4 py-3 text-sm text-amber-900 dark:border-amber-800 dark:bg-amber-950 dark:text-amber-100"
    >
      <p className="font-medium">{title}</p>
      <p>{note}</p>
      <div className="flex flex-wrap items-center gap-2">
        <code
          data-testid="secret"
          className="rounded bg-white px-2 py-1 font-mono text-sm select-all dark:bg-slate-900"
        >
          {secret}
        </code>
        <Button
          onClick={() =>
            void navigator.clipboard?.writeText(secret).then(
              () => setCopied(true),
              () => setCopied(false),
            )
          }
        >
          {copied ? 'Copied' : 'Copy'}
        </Button>
        <Button onClick={onDismiss}>Done</Button>
      </div>
    </section>
  );
}

/** A small explanation in place of a page the user may not use. */
export function NotAllowed({ children }: { children: string }) {
  return <p className="text-sm text-slate-600 dark:text-slate-400">{children}</p>;
}
