/**
 * Runs `task` once now (`startup` true), then at the start of every minute
 * until `stop()`. A pass that overruns delays the next; none overlap.
 */
export function everyMinute(task: (at: Date, startup: boolean) => Promise<unknown>): {
  stop(): void;
} {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const tick = (startup: boolean) => {
    if (stopped) return;
    void task(new Date(), startup).finally(() => {
      if (stopped) return;
      const now = Date.now();
      timer = setTimeout(() => tick(false), 60_000 - (now % 60_000) + 50);
      timer.unref();
    });
  };
  tick(true);
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
