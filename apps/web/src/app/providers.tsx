'use client';
import { QueryClient, QueryClientProvider, useQueryClient } from '@tanstack/react-query';
import { createContext, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { io } from 'socket.io-client';
import { makeTRPCClient, TRPCProvider } from '~/lib/trpc.ts';

interface ProjectState {
  project: string;
  setProject(name: string): void;
}
const ProjectContext = createContext<ProjectState>({ project: 'default', setProject: () => {} });
export const useProject = () => useContext(ProjectContext);

const LiveContext = createContext(false);
export const useLive = () => useContext(LiveContext);

/**
 * The engine's events, pushed over socket.io (`/events`, authenticated by the
 * session cookie, filtered by project on the server). Any lifecycle or
 * operation event refetches what is on screen, coalesced over 150 ms.
 */
function useEngineEvents(): boolean {
  const queryClient = useQueryClient();
  const [live, setLive] = useState(false);
  useEffect(() => {
    const socket = io('/events', { transports: ['websocket'], withCredentials: true });
    let timer: ReturnType<typeof setTimeout> | undefined;
    socket.on('connect', () => setLive(true));
    socket.on('disconnect', () => setLive(false));
    socket.on('connect_error', () => setLive(false));
    socket.on('event', () => {
      clearTimeout(timer);
      timer = setTimeout(() => void queryClient.invalidateQueries(), 150);
    });
    return () => {
      clearTimeout(timer);
      socket.close();
    };
  }, [queryClient]);
  return live;
}

function Live({ children }: { children: ReactNode }) {
  const live = useEngineEvents();
  return <LiveContext.Provider value={live}>{children}</LiveContext.Provider>;
}

export function Providers({ children }: { children: ReactNode }) {
  const [queryClient] = useState(
    () =>
      new QueryClient({
        defaultOptions: { queries: { staleTime: 5_000, retry: 1, refetchOnWindowFocus: true } },
      }),
  );
  const [trpcClient] = useState(makeTRPCClient);
  const [project, setProjectState] = useState('default');
  useEffect(() => {
    const saved = window.localStorage.getItem('berth.project');
    if (saved) setProjectState(saved);
  }, []);
  const projectState = useMemo(
    () => ({
      project,
      setProject(name: string) {
        window.localStorage.setItem('berth.project', name);
        setProjectState(name);
      },
    }),
    [project],
  );
  return (
    <QueryClientProvider client={queryClient}>
      <TRPCProvider trpcClient={trpcClient} queryClient={queryClient}>
        <ProjectContext.Provider value={projectState}>
          <Live>{children}</Live>
        </ProjectContext.Provider>
      </TRPCProvider>
    </QueryClientProvider>
  );
}
