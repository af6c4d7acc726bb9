'use client';
// The instance's terminals: an exec shell and the console (tty 0), and for a
// virtual machine its graphical console (the VGA screen, over VNC); the
// console log is the Logs tab. A terminal connects when its tab is first opened and stays
// connected while other tabs are shown; "Disconnect" ends its pty.
import dynamic from 'next/dynamic';
import { useState, type FormEvent, type KeyboardEvent } from 'react';
import { Button, inputClass } from '~/components/ui.tsx';
import type { TerminalKind, TerminalState } from '~/components/terminal.tsx';
import type { VgaState } from '~/components/vga-console.tsx';

// xterm.js needs the DOM: never rendered on the server.
const Terminal = dynamic(() => import('~/components/terminal.tsx'), {
  ssr: false,
  loading: () => <p className="text-sm text-slate-500">Loading terminal…</p>,
});

// noVNC needs the DOM too.
const VgaConsole = dynamic(() => import('~/components/vga-console.tsx'), {
  ssr: false,
  loading: () => <p className="text-sm text-slate-500">Loading graphical console…</p>,
});

type Tab = TerminalKind | 'vga';
const tabs: { id: Tab; label: string }[] = [
  { id: 'exec', label: 'Exec' },
  { id: 'console', label: 'Console' },
  { id: 'vga', label: 'Graphical console' },
];

/** Why a tab cannot open for this instance, or null. */
function unavailable(tab: Tab, type: string): string | null {
  return tab === 'vga' && type !== 'virtual-machine'
    ? 'Only virtual machines have a graphical console'
    : null;
}

/** One terminal with its own connect / disconnect; `session` remounts it (a new pty). */
function TerminalPanel({
  kind,
  project,
  instance,
  command,
}: {
  kind: TerminalKind;
  project: string;
  instance: string;
  command?: string[];
}) {
  const [session, setSession] = useState(1);
  const [state, setState] = useState<TerminalState>('connecting');
  const live = session > 0;
  const ended = !live || state === 'exited' || state === 'disconnected' || state === 'error';
  return (
    <div className="flex flex-col gap-2">
      <div className="flex gap-2">
        {ended ? (
          <Button onClick={() => setSession((s) => Math.abs(s) + 1)}>Reconnect</Button>
        ) : (
          <Button onClick={() => setSession((s) => -Math.abs(s))}>Disconnect</Button>
        )}
      </div>
      {live ? (
        <Terminal
          key={session}
          kind={kind}
          project={project}
          instance={instance}
          {...(command ? { command } : {})}
          onStateChange={setState}
        />
      ) : (
        <p className="text-sm text-slate-500">Disconnected.</p>
      )}
    </div>
  );
}

/** The VM's screen with its own connect / disconnect, as a terminal's. */
function VgaPanel({ project, instance }: { project: string; instance: string }) {
  const [session, setSession] = useState(1);
  const [state, setState] = useState<VgaState>('connecting');
  const live = session > 0;
  const ended = !live || state === 'ended' || state === 'error';
  return (
    <div className="flex flex-col gap-2">
      <div className="flex gap-2">
        {ended ? (
          <Button onClick={() => setSession((s) => Math.abs(s) + 1)}>Reconnect</Button>
        ) : (
          <Button onClick={() => setSession((s) => -Math.abs(s))}>Disconnect</Button>
        )}
      </div>
      {live ? (
        <VgaConsole key={session} project={project} instance={instance} onStateChange={setState} />
      ) : (
        <p className="text-sm text-slate-500">Disconnected.</p>
      )}
    </div>
  );
}

function ExecPanel({ project, instance }: { project: string; instance: string }) {
  const [draft, setDraft] = useState('');
  const [command, setCommand] = useState<string[] | undefined>(undefined);
  const run = (event: FormEvent) => {
    event.preventDefault();
    const words = draft.trim().split(/\s+/).filter(Boolean);
    setCommand(words.length ? words : undefined);
  };
  return (
    <div className="flex flex-col gap-2">
      <form onSubmit={run} className="flex items-end gap-2">
        <label className="flex grow flex-col gap-1 text-sm">
          Command{' '}
          <span className="text-xs text-slate-500">
            (words split on spaces; empty: a login shell)
          </span>
          <input
            className={`${inputClass} font-mono`}
            value={draft}
            onChange={(e) => setDraft(e.target.value)}
            placeholder="/bin/sh -l"
          />
        </label>
        <Button type="submit">Run</Button>
      </form>
      <TerminalPanel
        key={command ? JSON.stringify(command) : 'shell'}
        kind="exec"
        project={project}
        instance={instance}
        {...(command ? { command } : {})}
      />
    </div>
  );
}

export function InstanceTerminals({
  project,
  name,
  status,
  type,
}: {
  project: string;
  name: string;
  status: string;
  /** `container` or `virtual-machine`: only a VM has a graphical console. */
  type: string;
}) {
  const [tab, setTab] = useState<Tab | null>(null);
  // Tabs once opened stay mounted (hidden), so switching does not end a shell.
  const [opened, setOpened] = useState<ReadonlySet<Tab>>(new Set());
  const running = status === 'Running';
  const select = (next: Tab) => {
    if (unavailable(next, type)) return;
    setTab(next);
    setOpened((s) => (s.has(next) ? s : new Set([...s, next])));
  };
  const onKey = (event: KeyboardEvent<HTMLButtonElement>, index: number) => {
    const step = event.key === 'ArrowRight' ? 1 : event.key === 'ArrowLeft' ? -1 : 0;
    if (!step) return;
    const open = tabs.filter((t) => !unavailable(t.id, type));
    const at = open.findIndex((t) => t.id === tabs[index]!.id);
    const next = open[(at + step + open.length) % open.length]!;
    select(next.id);
    document.getElementById(`terminal-tab-${next.id}`)?.focus();
  };

  return (
    <section aria-labelledby="terminals" className="mb-8">
      <h2 id="terminals" className="mb-2 text-lg font-medium">
        Terminals
      </h2>
      <div
        role="tablist"
        aria-label="Terminals"
        className="mb-3 flex gap-1 border-b border-slate-200 dark:border-slate-800"
      >
        {tabs.map((t, index) => (
          <button
            key={t.id}
            id={`terminal-tab-${t.id}`}
            type="button"
            role="tab"
            aria-selected={tab === t.id}
            aria-controls={`terminal-panel-${t.id}`}
            tabIndex={tab === t.id || (tab === null && index === 0) ? 0 : -1}
            disabled={unavailable(t.id, type) !== null}
            title={unavailable(t.id, type) ?? undefined}
            onClick={() => select(t.id)}
            onKeyDown={(e) => onKey(e, index)}
            className={`-mb-px border-b-2 px-3 py-1.5 text-sm disabled:cursor-not-allowed disabled:opacity-50 ${
              tab === t.id
                ? 'border-sky-600 font-medium text-sky-700 dark:text-sky-400'
                : 'border-transparent text-slate-600 hover:text-slate-900 dark:text-slate-400 dark:hover:text-slate-100'
            }`}
          >
            {t.label}
          </button>
        ))}
      </div>
      {tab === null && (
        <p className="text-sm text-slate-500">
          Exec runs a shell (or a command) in the instance; Console attaches to its console (tty 0),
          whose past output is in the Logs tab.
          {type === 'virtual-machine'
            ? ' Graphical console shows the VM’s screen.'
            : ' A container has no graphical console: only virtual machines have a screen.'}
        </p>
      )}
      {tabs.map((t) =>
        opened.has(t.id) ? (
          <div
            key={t.id}
            id={`terminal-panel-${t.id}`}
            role="tabpanel"
            aria-labelledby={`terminal-tab-${t.id}`}
            hidden={tab !== t.id}
          >
            {!running ? (
              <p className="text-sm text-slate-500">
                The instance is {status.toLowerCase()}: start it to open a terminal.
              </p>
            ) : t.id === 'exec' ? (
              <ExecPanel project={project} instance={name} />
            ) : t.id === 'vga' ? (
              <VgaPanel project={project} instance={name} />
            ) : (
              <TerminalPanel kind="console" project={project} instance={name} />
            )}
          </div>
        ) : null,
      )}
    </section>
  );
}
