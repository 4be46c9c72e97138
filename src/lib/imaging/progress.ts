// Progress of the intake stages as one typed event, and the throttle that keeps it to ~10 updates a second so a
// 2,000-image set does not re-render the UI 2,000 times. Pure.

/** Progress of one intake stage over a set: `hash` reads and checks files, `preprocess` decodes them. */
export interface IntakeProgress {
  phase: 'hash' | 'preprocess';
  done: number;
  total: number;
}

/**
 * Wraps a progress callback so it fires at most once per `intervalMs`, except that the first event and the final
 * one (done === total) always pass, so a bar never stops short of 100 %.
 */
export function throttleProgress<P extends { done: number; total: number }>(
  callback: ((progress: P) => void) | undefined,
  intervalMs = 100,
  now: () => number = () => performance.now(),
): (progress: P) => void {
  if (!callback) return () => undefined;
  let last = -Infinity;
  return (progress) => {
    const t = now();
    if (progress.done >= progress.total || t - last >= intervalMs) {
      last = t;
      callback(progress);
    }
  };
}
