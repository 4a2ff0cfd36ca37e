/**
 * One cluster node's lease manager alone in a process (bundled by test/helpers/lease-nodes.ts), so
 * a test can kill -9 it or SIGSTOP it like a real node. It "runs" a camera by printing a frame line
 * every 50 ms while the manager says it holds it (the same per-frame gate a real node applies), and
 * prints every acquire and loss: JSON lines {ev, node, camera, t}.
 * argv: natsUrl node maxCameras ttlMs heartbeatMs camera...
 */
import { connect } from '@nats-io/transport-node';
import { pino } from 'pino';
import { capacityFromDrops } from '../../src/cluster/capacity.js';
import { LeaseManager } from '../../src/cluster/leases.js';

const [url, node, max, ttl, hb, ...cameras] = process.argv.slice(2);
const say = (ev: string, camera?: string, extra: object = {}) =>
  process.stdout.write(`${JSON.stringify({ ev, node, camera, t: Date.now(), ...extra })}\n`);

const nc = await connect({ servers: url, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
const leases = await LeaseManager.open(nc, {
  node: node as string,
  ttlMs: Number(ttl),
  heartbeatMs: Number(hb),
  cameras: () => cameras,
  capacity: (held) => capacityFromDrops(Number(max), held, 0),
  onAcquire: (camera, revision) => say('acquire', camera, { revision }),
  onLose: (camera, reason) => say('lose', camera, { reason }),
  log: pino({ level: 'warn' }, process.stderr),
});
leases.start();
setInterval(() => {
  for (const camera of cameras) if (leases.holds(camera)) say('frame', camera);
}, 50);
process.on('SIGTERM', async () => {
  await leases.stop();
  say('stopped');
  await nc.close();
  process.exit(0);
});
say('ready');
