/**
 * A progress line for long jobs (training, evaluation, benchmarks): step/total, rate, ETA and the
 * caller's figures. On a terminal it rewrites one line; otherwise it prints a line every `every`
 * steps (and the last), so logs stay readable.
 */
export interface Progress {
  tick(step: number, figures?: Record<string, number | string>): void;
  done(message?: string): void;
}

export function progress(
  label: string,
  total: number,
  opts: { stream?: NodeJS.WritableStream & { isTTY?: boolean }; every?: number; startStep?: number } = {},
): Progress {
  const out = opts.stream ?? process.stderr;
  const tty = Boolean(out.isTTY);
  const every = opts.every ?? Math.max(1, Math.round(total / 20));
  const t0 = performance.now();
  const start = opts.startStep ?? 0;
  let last = '';
  const fmt = (v: number | string) =>
    typeof v === 'string'
      ? v
      : Math.abs(v) >= 100
        ? v.toFixed(0)
        : Math.abs(v) >= 1
          ? v.toFixed(2)
          : v.toPrecision(3);
  return {
    tick(step, figures = {}) {
      const elapsed = (performance.now() - t0) / 1000;
      const done = step - start;
      const rate = done > 0 ? elapsed / done : 0;
      const eta = rate * (total - step);
      const pct = ((100 * step) / total).toFixed(0).padStart(3);
      const extra = Object.entries(figures)
        .map(([k, v]) => `${k} ${fmt(v)}`)
        .join('  ');
      last = `${label} ${pct}% ${step}/${total}  ${rate.toFixed(2)} s/step  ETA ${formatSeconds(eta)}  ${extra}`;
      if (tty) out.write(`\r\x1b[K${last}`);
      else if (step % every === 0 || step === total) out.write(`${last}\n`);
    },
    done(message) {
      if (tty) out.write('\n');
      if (message) out.write(`${message}\n`);
    },
  };
}

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '?';
  if (s < 60) return `${s.toFixed(0)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
