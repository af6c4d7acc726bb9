'use client';
// A VM's graphical console: its VGA screen, drawn by noVNC from the VNC
// stream the server relays over socket.io `/terminals` (kind `vga`, the same
// authorised and audited path as the text consoles; socket-channel.ts makes
// the socket look like the WebSocket noVNC expects). Browser-only: load it
// with next/dynamic and `ssr: false` (noVNC touches `window` and
// `WebSocket` as it loads). The screen is scaled to fit; keys typed while
// it has focus go to the VM.
import { useEffect, useRef, useState } from 'react';
import { io } from 'socket.io-client';
import type RFB from '@novnc/novnc';
import { Button } from './ui.tsx';
import { SocketChannel } from './socket-channel.ts';

export type VgaState = 'connecting' | 'open' | 'ended' | 'error';

export interface VgaConsoleProps {
  project: string;
  instance: string;
  onStateChange?(state: VgaState): void;
}

const stateText: Record<VgaState, string> = {
  connecting: 'Connecting…',
  open: 'Connected',
  ended: 'Disconnected',
  error: 'Failed',
};

/** What a refused handshake means to the user. */
function handshakeMessage(message: string): string {
  return message === 'UNAUTHORIZED' ? 'Sign in first' : message;
}

export default function VgaConsole({ project, instance, onStateChange }: VgaConsoleProps) {
  const host = useRef<HTMLDivElement>(null);
  const screen = useRef<RFB | null>(null);
  const [state, setState] = useState<VgaState>('connecting');
  const [error, setError] = useState<string | null>(null);
  const notify = useRef(onStateChange);
  notify.current = onStateChange;

  useEffect(() => {
    const element = host.current;
    if (!element) return;
    let cancelled = false;
    let socket: ReturnType<typeof io> | null = null;
    let current: VgaState = 'connecting';
    const change = (next: VgaState) => {
      // The first ending is the one shown (a refusal, then its disconnect).
      if (current === 'ended' || current === 'error') return;
      current = next;
      setState(next);
      notify.current?.(next);
    };
    const fail = (message: string) => {
      setError(message);
      change('error');
    };

    // noVNC first, then the socket: RFB holds the channel before any byte can arrive.
    import('@novnc/novnc')
      .then(({ default: RFB }) => {
        if (cancelled) return;
        socket = io('/terminals', {
          transports: ['websocket'],
          reconnection: false,
          withCredentials: true,
        });
        // Before the channel's own listeners: a refusal is shown as such, not as a plain end.
        socket.on('error', ({ message }: { message: string }) => fail(message));
        socket.on('connect_error', (err: Error) => fail(handshakeMessage(err.message)));
        socket.on('connect', () => socket?.emit('open', { kind: 'vga', project, instance }));
        const channel = new SocketChannel(socket);
        const rfb = new RFB(element, channel, { shared: true });
        rfb.scaleViewport = true;
        rfb.background = 'rgb(15, 23, 42)';
        rfb.addEventListener('connect', () => change('open'));
        rfb.addEventListener('disconnect', (event) => {
          if ((event as CustomEvent<{ clean: boolean }>).detail.clean) change('ended');
          else fail("The connection to the VM's screen was lost");
        });
        rfb.addEventListener('securityfailure', (event) => {
          const { reason } = (event as CustomEvent<{ reason?: string }>).detail;
          fail(`The VM's screen refused the connection${reason ? `: ${reason}` : ''}`);
        });
        screen.current = rfb;
      })
      .catch((err: unknown) => fail(err instanceof Error ? err.message : String(err)));

    return () => {
      cancelled = true;
      // Ending RFB closes the channel, whose socket's going ends the VNC stream on the server.
      screen.current?.disconnect();
      screen.current = null;
      socket?.close();
    };
  }, [project, instance]);

  return (
    <div className="flex flex-col gap-1" data-testid="vga-console" data-vga-state={state}>
      <div className="flex items-center gap-2">
        <p className="text-xs text-slate-500" aria-live="polite">
          {stateText[state]}
        </p>
        <Button
          disabled={state !== 'open'}
          onClick={() => {
            screen.current?.sendCtrlAltDel();
            screen.current?.focus();
          }}
        >
          Send Ctrl+Alt+Del
        </Button>
      </div>
      {error && (
        <p role="alert" className="text-sm text-red-700 dark:text-red-400">
          {error}
        </p>
      )}
      <div
        ref={host}
        role="application"
        aria-label={`Graphical console of ${instance}`}
        className="h-[30rem] w-full overflow-hidden rounded bg-slate-900"
      />
    </div>
  );
}
