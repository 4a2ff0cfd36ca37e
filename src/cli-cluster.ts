/**
 * `vigil cluster cameras ...`: the cluster's cameras in PostgreSQL (src/cluster/cameras-pg.ts),
 * straight in the database (no node needs to run; running nodes follow within seconds):
 *   vigil cluster cameras list [--json]
 *   vigil cluster cameras add <id> (--url U | --lavfi G | --device D | --demo) [--width N ...] [--set JSON]
 *   vigil cluster cameras remove <id>
 * The database: --postgres URL, else VIGIL_CLUSTER_POSTGRES. A bad camera names the key.
 */
import { type Command, InvalidArgumentError } from 'commander';
import { fail, num } from './cli-options.js';
import { redactUrlsIn } from './util/redact-url.js';

type PgCameras = import('./cluster/cameras-pg.js').PgCameras;

interface AddOptions {
  url?: string;
  lavfi?: string;
  device?: string;
  demo?: boolean;
  width?: number;
  height?: number;
  detectFps?: number;
  displayFps?: number;
  set?: Record<string, unknown>;
}

const print = (s: string): void => void process.stdout.write(`${s}\n`);

const jsonObject = (v: string): Record<string, unknown> => {
  let o: unknown;
  try {
    o = JSON.parse(v);
  } catch {
    throw new InvalidArgumentError('must be a JSON object, e.g. \'{"detectFps": 2}\'');
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o))
    throw new InvalidArgumentError('must be a JSON object, e.g. \'{"detectFps": 2}\'');
  return o as Record<string, unknown>;
};

/** Opens the camera table of `--postgres` (or VIGIL_CLUSTER_POSTGRES), runs `fn`, closes it. */
async function withCameras<T>(url: string | undefined, fn: (c: PgCameras) => Promise<T>): Promise<T> {
  const postgres = url ?? process.env.VIGIL_CLUSTER_POSTGRES;
  if (!postgres) throw new Error('say which database: --postgres postgres://... or VIGIL_CLUSTER_POSTGRES');
  const [{ default: pg }, { PgCameras }] = await Promise.all([
    import('pg'),
    import('./cluster/cameras-pg.js'),
  ]);
  const pool = new pg.Pool({ connectionString: postgres, max: 1, connectionTimeoutMillis: 5000 });
  pool.on('error', () => undefined); // the query in flight rejects anyway
  try {
    const cameras = new PgCameras(pool);
    await cameras.migrate().catch((e: Error) => {
      throw new Error(`cannot use PostgreSQL at ${redactUrlsIn(postgres)}: ${e.message}`);
    });
    return await fn(cameras);
  } finally {
    await pool.end();
  }
}

/** The camera's config from the options: the source, sizes and rates, then --set over them. */
function givenConfig(o: AddOptions): Record<string, unknown> {
  const given: Record<string, unknown> = {
    url: o.url,
    lavfi: o.lavfi,
    device: o.device,
    demo: o.demo,
    width: o.width,
    height: o.height,
    detectFps: o.detectFps,
    displayFps: o.displayFps,
    ...o.set,
  };
  return Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined));
}

export function registerClusterCommands(program: Command) {
  const cameras = program
    .command('cluster')
    .description('cluster mode: the cameras every node shares (docs/cluster.md)')
    .command('cameras')
    .description("the cluster's cameras in PostgreSQL: list, add, remove");
  const postgres = ['--postgres <url>', 'the cluster database (default: VIGIL_CLUSTER_POSTGRES)'] as const;
  cameras
    .command('list')
    .description('every camera, with its source')
    .option(...postgres)
    .option('--json', 'JSON output (the configs as stored)')
    .action(async (o: { postgres?: string; json?: boolean }) => {
      try {
        const rows = await withCameras(o.postgres, (c) => c.rows());
        if (o.json) return print(JSON.stringify(rows, null, 2));
        if (!rows.length) return print('no cameras');
        for (const r of rows) {
          const c = r.config as Record<string, unknown>;
          const source = ['url', 'lavfi', 'device', 'demo'].find((k) => c[k] !== undefined) ?? '?';
          print(`${r.id.padEnd(20)} ${source} ${redactUrlsIn(String(c[source]))}  (updated ${r.updatedAt})`);
        }
      } catch (e) {
        fail(e);
      }
    });
  cameras
    .command('add')
    .description('add a camera, or replace the one with this id')
    .argument('<id>', 'the camera (letters, digits, _ and -)')
    .option('--url <url>', 'rtsp://, http(s):// or a file')
    .option('--lavfi <graph>', 'an ffmpeg lavfi source, e.g. testsrc2=size=640x360:rate=15')
    .option('--device <path>', 'a V4L2 device such as /dev/video0')
    .option('--demo', 'the embedded demo source')
    .option('--width <n>', 'detection frame width', num('--width', 16, 7680, true))
    .option('--height <n>', 'detection frame height', num('--height', 16, 7680, true))
    .option('--detect-fps <n>', 'frames detected per second', num('--detect-fps', 0.01, 60))
    .option('--display-fps <n>', 'frames shown per second', num('--display-fps', 0.01, 60))
    .option('--set <json>', 'any other stream keys, e.g. \'{"rtspTransport": "udp"}\'', jsonObject)
    .option(...postgres)
    .action(async (id: string, o: AddOptions & { postgres?: string }) => {
      try {
        const { parseCamera } = await import('./cluster/cameras-pg.js');
        const given = givenConfig(o);
        const p = parseCamera(id, given);
        if (!p.ok) throw new Error(`invalid camera "${id}": ${p.problem}`);
        const created = await withCameras(o.postgres, (c) => c.put(id, given));
        print(`${created ? 'added' : 'replaced'} camera ${id}`);
      } catch (e) {
        fail(e);
      }
    });
  cameras
    .command('remove')
    .description('remove a camera (the node running it stops it)')
    .argument('<id>', 'the camera')
    .option(...postgres)
    .action(async (id: string, o: { postgres?: string }) => {
      try {
        if (!(await withCameras(o.postgres, (c) => c.remove(id)))) throw new Error(`no camera "${id}"`);
        print(`removed camera ${id}`);
      } catch (e) {
        fail(e);
      }
    });
}
