/**
 * Real RTSP test server for vitest: drives test/helpers/rtsp_server.py (GStreamer RTSP server)
 * on 127.0.0.1, with helpers to kill, restart, freeze and resume it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { gstMissing, PYTHON } from './system-deps.mjs';

const SCRIPT = fileURLToPath(new URL('./rtsp_server.py', import.meta.url));
const READY_TIMEOUT_MS = 15_000;
const STOP_GRACE_MS = 3_000;
const REBIND_RETRY_MS = 5_000;
/** Exit code of rtsp_server.py when the port cannot be bound. */
const EXIT_CANNOT_LISTEN = 2;

/** Children still alive, killed on process exit so none is ever orphaned. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function track(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const c of live) c.kill('SIGKILL');
    });
  }
  live.add(child);
  child.once('exit', () => live.delete(child));
}

/** Returns null if the GStreamer RTSP server can run here, else why not (the shared probe of .ci/run). */
export async function rtspServerAvailable(): Promise<string | null> {
  return gstMissing();
}

/** Returns a TCP port that was free on 127.0.0.1 a moment ago. */
export async function freePort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const address = srv.address();
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('freePort: no TCP address');
  return address.port;
}

export interface RtspServerOptions {
  /** TCP port to listen on; default: a free port. */
  port?: number;
  /** Mount path, default "/test". */
  mount?: string;
  /** More mounts of the same picture (cameras that all show it); `url` is the first one's. */
  mounts?: string[];
  /** Output size and rate (also applied to --file), default 640x360 at 15 fps. */
  width?: number;
  height?: number;
  fps?: number;
  /** Serve this mp4 (H.264) in real time instead of the synthetic pattern. */
  file?: string;
  /** Loop `file` forever (timestamps keep increasing). */
  loop?: boolean;
}

class StartError extends Error {
  constructor(
    message: string,
    readonly exitCode: number | null,
  ) {
    super(message);
  }
}

/** Spawns the script and resolves once it printed READY. */
async function spawnServer(args: string[]): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(PYTHON, [SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  track(child);
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr = (stderr + d).slice(-8_000);
  });
  let stdout = '';
  return new Promise((resolve, reject) => {
    const fail = (msg: string, code: number | null) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new StartError(`${msg}\n--- rtsp_server.py stderr ---\n${stderr.trim()}`, code));
    };
    const timer = setTimeout(
      () => fail(`rtsp_server.py did not print READY within ${READY_TIMEOUT_MS} ms`, null),
      READY_TIMEOUT_MS,
    );
    const onExit = (code: number | null, signal: string | null) =>
      fail(`rtsp_server.py exited before READY (code ${code}, signal ${signal})`, code);
    child.once('exit', onExit);
    child.once('error', (err) => fail(`cannot spawn ${PYTHON}: ${err.message}`, null));
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      const match = /^READY (\S+)$/m.exec(stdout);
      if (match?.[1] === undefined) return;
      clearTimeout(timer);
      child.off('exit', onExit);
      // A running server must not keep the test process alive; the exit hook kills it.
      child.unref();
      (child.stdout as Socket | null)?.unref();
      (child.stderr as Socket | null)?.unref();
      resolve({ child, url: match[1] });
    });
  });
}

/** A running rtsp_server.py; restartable on the same port and mount. */
export class RtspTestServer {
  private constructor(
    private child: ChildProcess,
    readonly url: string,
    readonly port: number,
    private readonly args: string[],
  ) {}

  /** Starts the server and waits for READY. */
  static async start(opts: RtspServerOptions = {}): Promise<RtspTestServer> {
    const port = opts.port ?? (await freePort());
    const mounts = opts.mounts ?? [opts.mount ?? '/test'];
    const args = ['--port', String(port), ...mounts.flatMap((m) => ['--mount', m]), '--die-with-parent'];
    if (opts.width !== undefined) args.push('--width', String(opts.width));
    if (opts.height !== undefined) args.push('--height', String(opts.height));
    if (opts.fps !== undefined) args.push('--fps', String(opts.fps));
    if (opts.file !== undefined) args.push('--file', opts.file);
    if (opts.loop) args.push('--loop');
    const { child, url } = await spawnServer(args);
    return new RtspTestServer(child, url, port, args);
  }

  /** PID of the current server process. */
  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Whether the current server process is still running. */
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGKILLs the server (no clean RTSP teardown) and waits for it to exit. */
  async kill(): Promise<void> {
    await this.signalAndWait('SIGKILL');
  }

  /** SIGTERMs the server, falling back to SIGKILL after 3 s, and waits for it to exit. */
  async stop(): Promise<void> {
    if (!this.running) return;
    const exited = once(this.child, 'exit');
    this.child.ref();
    this.child.kill('SIGTERM');
    this.child.kill('SIGCONT'); // a frozen server could not act on SIGTERM
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((r) => {
      timer = setTimeout(() => r('timeout'), STOP_GRACE_MS);
    });
    const result = await Promise.race([exited, timeout]);
    clearTimeout(timer);
    if (result === 'timeout') await this.signalAndWait('SIGKILL');
  }

  /** Starts the server again on the same port and mount (stopping it first if still running). */
  async restart(): Promise<void> {
    await this.stop();
    const deadline = Date.now() + REBIND_RETRY_MS;
    for (;;) {
      try {
        this.child = (await spawnServer(this.args)).child;
        return;
      } catch (err) {
        const busy = err instanceof StartError && err.exitCode === EXIT_CANNOT_LISTEN;
        if (!busy || Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  /** SIGSTOPs the server: connections stay open but no data flows. */
  freeze(): void {
    this.child.kill('SIGSTOP');
  }

  /** SIGCONTs a frozen server. */
  resume(): void {
    this.child.kill('SIGCONT');
  }

  private async signalAndWait(signal: NodeJS.Signals): Promise<void> {
    if (!this.running) return;
    const exited = once(this.child, 'exit');
    this.child.ref();
    this.child.kill(signal);
    await exited;
  }
}

/** Starts rtsp_server.py (see RtspServerOptions) and waits up to 15 s for it to listen. */
export async function startRtspServer(opts?: RtspServerOptions): Promise<RtspTestServer> {
  return RtspTestServer.start(opts);
}
