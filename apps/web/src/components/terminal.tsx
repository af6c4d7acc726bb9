'use client';
// An xterm.js terminal on one pty of an instance, over socket.io `/terminals`
// (runtime/terminal-gateway.ts). Browser-only: load it with next/dynamic and
// `ssr: false`. It fits its container and tells the server every new size;
// keystrokes go out as they are typed and output is written as it arrives.
import '@xterm/xterm/css/xterm.css';
import { FitAddon } from '@xterm/addon-fit';
import { Terminal as XTerm } from '@xterm/xterm';
import { useEffect, useRef, useState } from 'react';
import { io } from 'socket.io-client';

export type TerminalKind = 'console' | 'exec';
export type TerminalState = 'connecting' | 'open' | 'exited' | 'disconnected' | 'error';

export interface TerminalProps {
  kind: TerminalKind;
  project: string;
  instance: string;
  /** Exec only; default: a login shell. */
  command?: string[];
  onStateChange?(state: TerminalState): void;
}

const stateText: Record<TerminalState, string> = {
  connecting: 'Connecting…',
  open: 'Connected',
  exited: 'Ended',
  disconnected: 'Disconnected',
  error: 'Failed',
};

/** What a refused handshake means to the user. */
function handshakeMessage(message: string): string {
  if (message === 'UNAUTHORIZED') return 'Sign in first';
  return message;
}

export default function Terminal({
  kind,
  project,
  instance,
  command,
  onStateChange,
}: TerminalProps) {
  const host = useRef<HTMLDivElement>(null);
  const [state, setState] = useState<TerminalState>('connecting');
  const [error, setError] = useState<string | null>(null);
  const notify = useRef(onStateChange);
  notify.current = onStateChange;
  // The command as a stable dependency (a new array each render must not reconnect).
  const commandKey = command ? JSON.stringify(command) : '';

  useEffect(() => {
    const element = host.current;
    if (!element) return;
    const change = (next: TerminalState) => {
      setState(next);
      notify.current?.(next);
    };

    const term = new XTerm({
      cursorBlink: true,
      fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace',
      fontSize: 14,
      scrollback: 5000,
      theme: { background: '#0f172a', foreground: '#e2e8f0', cursor: '#e2e8f0' },
    });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(element);
    fit.fit();

    const socket = io('/terminals', {
      transports: ['websocket'],
      reconnection: false,
      withCredentials: true,
    });
    let ready = false;
    let ended = false;
    // Typed before the pty is attached: sent once it is.
    const early: (string | Uint8Array)[] = [];
    const send = (data: string | Uint8Array) => {
      if (ended) return;
      if (ready) socket.emit('data', data);
      else early.push(data);
    };
    const endWith = (line: string, next: TerminalState) => {
      if (ended) return;
      ended = true;
      term.write(`\r\n\x1b[2m${line}\x1b[0m\r\n`);
      change(next);
    };

    socket.on('connect', () => {
      socket.emit('open', {
        kind,
        project,
        instance,
        ...(commandKey ? { command: JSON.parse(commandKey) as string[] } : {}),
        cols: term.cols,
        rows: term.rows,
      });
    });
    socket.on('ready', () => {
      ready = true;
      for (const data of early.splice(0)) socket.emit('data', data);
      change('open');
      term.focus();
    });
    socket.on('data', (data: ArrayBuffer | string) => {
      term.write(typeof data === 'string' ? data : new Uint8Array(data));
    });
    socket.on('exit', ({ code }: { code: number | null }) => {
      endWith(code === null ? '[disconnected]' : `[process exited with code ${code}]`, 'exited');
    });
    socket.on('error', ({ message }: { message: string }) => {
      setError(message);
      endWith(`[${message}]`, 'error');
    });
    socket.on('connect_error', (err: Error) => {
      const message = handshakeMessage(err.message);
      setError(message);
      endWith(`[${message}]`, 'error');
    });
    socket.on('disconnect', () => endWith('[disconnected]', 'disconnected'));

    const input = term.onData((data) => send(data));
    // Binary input (some mouse reports) is Latin-1 in a string: send its bytes.
    const binary = term.onBinary((data) =>
      send(Uint8Array.from(data, (c) => c.charCodeAt(0) & 0xff)),
    );
    const resized = term.onResize(({ cols, rows }) => {
      if (ready && !ended) socket.emit('resize', { cols, rows });
    });
    const observer = new ResizeObserver(() => {
      // Hidden (0×0) containers propose no size; fit only what is shown.
      if (element.clientWidth > 0 && element.clientHeight > 0) fit.fit();
    });
    observer.observe(element);

    return () => {
      observer.disconnect();
      input.dispose();
      binary.dispose();
      resized.dispose();
      // Closing the socket is what ends the pty on the server.
      socket.close();
      term.dispose();
    };
  }, [kind, project, instance, commandKey]);

  return (
    <div
      className="flex flex-col gap-1"
      data-testid={`terminal-${kind}`}
      data-terminal-state={state}
    >
      <p className="text-xs text-slate-500" aria-live="polite">
        {stateText[state]}
      </p>
      {error && (
        <p role="alert" className="text-sm text-red-700 dark:text-red-400">
          {error}
        </p>
      )}
      <div
        ref={host}
        role="application"
        aria-label={`${kind === 'exec' ? 'Exec' : 'Console'} terminal of ${instance}`}
        className="h-[28rem] w-full overflow-hidden rounded bg-slate-900 p-1"
      />
    </div>
  );
}
