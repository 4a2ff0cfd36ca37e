/**
 * Camera leases (src/cluster/leases.ts) between lease-manager processes and a real nats-server:
 * shares follow capacity (maxCameras), a kill -9'd holder's cameras run elsewhere within 10 s,
 * a joining node gets its share, a node paused past its TTL never runs a camera it lost, a node
 * stopping hands over at once, and no camera ever runs on two nodes at the same time.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { LeaseNodes } from '../helpers/lease-nodes.js';
import { until } from '../helpers/mosquitto.js';
import { natsMissing, type NatsServer, startNats } from '../helpers/nats.js';
import { skipUnless } from '../helpers/requirements.js';

const CAMERAS = ['c1', 'c2', 'c3', 'c4', 'c5', 'c6'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sorted = (m: Map<string, number>) => Object.fromEntries([...m].sort());

describe.skipIf(skipUnless(natsMissing(), 'cluster leases'))('camera leases over JetStream KV', () => {
  let nats: NatsServer | undefined;
  const nodes = new LeaseNodes();
  afterAll(async () => {
    await nodes.stopAll();
    await nats?.stop();
  });

  const allRunOnce = () => {
    const r = nodes.runners();
    return CAMERAS.every((c) => r.get(c)?.size === 1);
  };

  it('shares, fails over, rebalances, fences a paused node and hands over on stop', async () => {
    nats = await startNats();
    await nodes.spawn(nats.url, 'n1', CAMERAS);
    await nodes.spawn(nats.url, 'n2', CAMERAS);
    await nodes.spawn(nats.url, 'n3', CAMERAS, { max: 1 });
    // capacity: n3 takes 1 (maxCameras), the others share the rest 3 + 2
    await until(() => allRunOnce() && nodes.perNode().get('n3') === 1, 'six cameras, n3 running one', 20_000);
    await until(
      () => sorted(nodes.perNode()).n1 === 3 && sorted(nodes.perNode()).n2 === 2,
      'shares 3/2/1',
      15_000,
    );

    // kill -9 n1: its cameras run on n2/n3 within 10 s (n3 is full, so all on n2)
    const lost = [...nodes.runners()].filter(([, n]) => n.has('n1')).map(([c]) => c);
    const killedAt = Date.now();
    nodes.signal('n1', 'SIGKILL');
    await until(
      () => lost.every((c) => nodes.firstFrameElsewhere(c, 'n1', killedAt)),
      'failover of n1',
      15_000,
    );
    const failover = Math.max(
      ...lost.map((c) => (nodes.firstFrameElsewhere(c, 'n1', killedAt)?.t ?? 0) - killedAt),
    );
    console.log(`lease failover after kill -9: ${failover} ms for ${lost.length} cameras`);
    expect(failover).toBeLessThan(10_000);
    await until(allRunOnce, 'six cameras after failover', 10_000);

    // a node joins: it gets its share (3/2/1 over n2, n4 and n3 by name order: n2 3, n3 1, n4 2)
    await nodes.spawn(nats.url, 'n4', CAMERAS);
    await until(() => nodes.perNode().get('n4') === 2 && allRunOnce(), 'n4 takes its share', 15_000);

    // SIGSTOP n2 past its TTL: its cameras move; when it wakes it runs none of them
    const pausedHad = [...nodes.runners()].filter(([, n]) => n.has('n2')).map(([c]) => c);
    nodes.signal('n2', 'SIGSTOP');
    await sleep(9000);
    const resumedAt = Date.now();
    nodes.signal('n2', 'SIGCONT');
    await sleep(3000);
    expect(pausedHad.length).toBeGreaterThan(0);
    const lostOnWake = nodes.events.filter((e) => e.node === 'n2' && e.ev === 'lose' && e.t >= resumedAt);
    expect(lostOnWake.length).toBe(pausedHad.length);
    await until(allRunOnce, 'six cameras after the pause', 15_000);

    // graceful stop of n4: its cameras are taken over within about one heartbeat
    const handed = [...nodes.runners()].filter(([, n]) => n.has('n4')).map(([c]) => c);
    const stoppedAt = Date.now();
    nodes.signal('n4', 'SIGTERM');
    await until(
      () => handed.every((c) => nodes.firstFrameElsewhere(c, 'n4', stoppedAt)),
      'hand-over of n4',
      10_000,
    );
    const handover = Math.max(
      ...handed.map((c) => (nodes.firstFrameElsewhere(c, 'n4', stoppedAt)?.t ?? 0) - stoppedAt),
    );
    console.log(`hand-over on graceful stop: ${handover} ms for ${handed.length} cameras`);
    expect(handover).toBeLessThan(3000);

    expect(nodes.overlaps()).toEqual([]);
  }, 120_000);
});
