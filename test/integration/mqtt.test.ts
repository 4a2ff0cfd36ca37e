/**
 * The MQTT alert sink against a real mosquitto (test/helpers/mosquitto.ts): real alerts from a real
 * AlertStore go through the alert sinks module's fan-out, configured from a YAML file this test
 * writes; what a subscriber receives is checked against docs/mqtt.md. Then the broker is killed
 * and restarted (alerts raised meanwhile arrive afterwards, in order), the queue bound drops the
 * oldest, and a running Vigil facing a broker that refuses its password logs one clear line and
 * keeps processing frames.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import Database from 'better-sqlite3';
import pino from 'pino';
import { BehaviorSubject } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Vigil } from '../../src/app.js';
import { alertSinksModule } from '../../src/app/modules/alert-sinks.js';
import { SourceSet } from '../../src/sources/source-set.js';
import { loadConfig } from '../../src/config/load.js';
import { AlertStore, type FaceAlert } from '../../src/faces/alerts.js';
import { VigilMetrics } from '../../src/metrics/metrics.js';
import {
  type Broker,
  mosquittoMissing,
  type Received,
  startBroker,
  subscriber,
  until,
} from '../helpers/mosquitto.js';
import { skipUnless } from '../helpers/requirements.js';
import { samplePhoto } from '../helpers/images.js';

const skip = skipUnless(mosquittoMissing(), 'MQTT sink tests (mosquitto)');
const dir = mkdtempSync(join(tmpdir(), 'vigil-mqtt-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Writes a config file with this mqtt block and loads it as `vigil run --config` would. */
function configFile(name: string, mqtt: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const file = join(dir, `${name}.yaml`);
  const yaml = [
    `dataDir: ${join(dir, name)}`,
    'log: {level: silent}',
    'streams:',
    '  - {id: door, lavfi: "testsrc2=size=320x180:rate=5", width: 320, height: 180}',
    `mqtt: ${JSON.stringify(mqtt)}`,
    ...Object.entries(extra).map(([k, v]) => `${k}: ${JSON.stringify(v)}`),
  ].join('\n');
  writeFileSync(file, `${yaml}\n`);
  return loadConfig(file);
}

/** The alert sinks module started on its own, with a real alert store and one camera's state. */
async function startSinks(cfg: ReturnType<typeof configFile>) {
  const metrics = new VigilMetrics({ defaultMetrics: false });
  const viewers: unknown[] = [];
  const state$ = new BehaviorSubject({ id: 'door', state: 'connecting' as const });
  const undo: Array<() => unknown> = [];
  // one camera whose state the test drives (a StreamSource as far as the module looks at it)
  const sourceSet = new SourceSet(() => ({ id: 'door', state$ }) as never);
  sourceSet.add({ id: 'door' } as never);
  const ctx = {
    config: cfg,
    log: pino({ level: 'silent' }),
    metrics,
    hub: { broadcast: (m: unknown) => viewers.push(m) },
    sourceSet,
    faces: undefined,
  };
  const started = await alertSinksModule.start(ctx as never, { onStop: (u) => undo.push(u) });
  const store = new AlertStore(new Database(':memory:'));
  const snap = readFileSync(samplePhoto(1));
  let t = Date.now() / 1000;
  /** Stores an alert as the alert stage does and hands it to the fan-out. */
  const raise = (label: string, personId: number | null): FaceAlert => {
    t += 1;
    const alert = store.add(
      { camera: 'door', sub_label: label, person_id: personId, score: 0.71, track_id: 3, start_time: t },
      snap,
    );
    started.alertSinks.publish(alert, store.snapshot(alert.id));
    return alert;
  };
  const deliveries = async (sink: string, result: string) => {
    const m = (await metrics.alertDeliveries.get()).values.find(
      (v) => v.labels.sink === sink && v.labels.result === result,
    );
    return m?.value ?? 0;
  };
  const stop = async () => {
    for (const u of undo.reverse()) await u();
  };
  return { ...started, state$, store, snap, raise, viewers, metrics, deliveries, stop };
}

const json = (m: Received | undefined) => JSON.parse(m?.text ?? 'null');

/** What Home Assistant's MQTT discovery requires of each component (and what these entities use). */
function checkDiscovery(m: Received): void {
  const [, component] = m.topic.split('/');
  expect(m.topic).toMatch(
    /^homeassistant\/(sensor|image|binary_sensor)\/[a-zA-Z0-9_-]+\/[a-zA-Z0-9_-]+\/config$/,
  );
  expect(m.retain).toBe(true);
  const c = json(m);
  expect(c.unique_id).toMatch(/^[a-z0-9_]+$/);
  expect(typeof c.name).toBe('string');
  expect(c.device.identifiers.length).toBeGreaterThan(0);
  expect(c.availability[0]).toEqual({
    topic: 'vigil/availability',
    payload_available: 'online',
    payload_not_available: 'offline',
  });
  if (component === 'image') {
    expect(c.image_topic).toMatch(/^vigil\/door\/snapshot$/);
    expect(c.content_type).toBe('image/jpeg');
  } else expect(typeof c.state_topic).toBe('string');
  if (component === 'binary_sensor') {
    expect(c.expire_after).toBeGreaterThan(0);
    expect(c.device_class).toBe('presence');
  }
}

/** The Frigate-shaped messages (docs/mqtt.md): the first is Anna's, the third a stranger's. */
function checkFrigate(events: Received[], anna: FaceAlert): void {
  const frigate = json(events[0]);
  expect(frigate.type).toBe('new');
  expect(frigate.before).toEqual(frigate.after);
  expect(frigate.after).toMatchObject({
    camera: 'door',
    label: 'person',
    sub_label: ['Anna', anna.score],
    top_score: anna.score,
    start_time: anna.start_time,
    has_snapshot: true,
  });
  expect(frigate.after.id).toMatch(/^\d+\.\d{6}-vigil\d+$/);
  expect(json(events[2]).after.sub_label).toBeNull();
}

describe.skipIf(skip)('MQTT alert sink (real mosquitto)', () => {
  let broker: Broker;
  beforeAll(async () => {
    broker = await startBroker({ persist: true });
  });
  afterAll(() => broker?.stop());

  it('publishes alerts, camera state, availability and Home Assistant discovery as documented', async () => {
    const sub = await subscriber(broker.url, ['vigil/#', 'frigate/#']);
    const sinks = await startSinks(configFile('topics', { url: broker.url, frigateCompatible: true }));
    const mqtt = sinks.mqtt;
    if (!mqtt) throw new Error('mqtt sink not started');
    mqtt.setPeople(['Anna', 'José María']);
    await until(() => mqtt.isConnected, 'the sink to connect');
    sinks.state$.next({ id: 'door', state: 'live' });
    const anna = sinks.raise('Anna', 4);
    const jose = sinks.raise('José María', 5);
    const stranger = sinks.raise('unknown', null);
    await until(() => sub.on('vigil/events').length === 3, 'three events');
    await until(() => sub.on('frigate/events').length === 3, 'three frigate events');

    expect(sub.on('vigil/events').map(json)).toEqual([
      { ...anna, name: 'Anna' },
      { ...jose, name: 'José María' },
      { ...stranger, name: null },
    ]);
    expect(json(sub.on('vigil/people/anna')[0])).toEqual({ ...anna, name: 'Anna' });
    expect(json(sub.on('vigil/people/josé_maría')[0]).id).toBe(jose.id);
    expect(sub.messages.some((m) => m.topic === 'vigil/people/unknown')).toBe(false);
    expect(json(sub.on('vigil/door/face').at(-1)).id).toBe(stranger.id);
    expect(sub.on('vigil/door/snapshot').at(-1)?.payload.equals(sinks.snap)).toBe(true);
    checkFrigate(sub.on('frigate/events'), anna);

    // a subscriber arriving later gets the retained state, availability, latest face and discovery
    const late = await subscriber(broker.url, ['vigil/#', 'homeassistant/#']);
    await until(
      () => late.messages.filter((m) => m.topic.startsWith('homeassistant/')).length >= 5,
      'discovery',
    );
    const retained = (topic: string) => late.on(topic).find((m) => m.retain);
    expect(retained('vigil/availability')?.text).toBe('online');
    expect(retained('vigil/door/state')?.text).toBe('live');
    expect(json(retained('vigil/door/face')).id).toBe(stranger.id);
    expect(retained('vigil/door/snapshot')?.payload.equals(sinks.snap)).toBe(true);
    const discovery = late.messages.filter((m) => m.topic.startsWith('homeassistant/'));
    expect(discovery.map((m) => m.topic).sort()).toEqual([
      'homeassistant/binary_sensor/vigil/person_anna/config',
      'homeassistant/binary_sensor/vigil/person_jose_maria/config',
      'homeassistant/image/vigil/door_snapshot/config',
      'homeassistant/sensor/vigil/door_last_face/config',
      'homeassistant/sensor/vigil/door_state/config',
    ]);
    for (const m of discovery) checkDiscovery(m);
    const lastFace = json(discovery.find((m) => m.topic.endsWith('door_last_face/config')));
    expect(lastFace).toMatchObject({
      state_topic: 'vigil/door/face',
      value_template: '{{ value_json.sub_label }}',
    });
    const person = json(discovery.find((m) => m.topic.endsWith('person_jose_maria/config')));
    expect(person.state_topic).toBe('vigil/people/josé_maría');

    // a person removed from the gallery: their sensor's retained config is cleared
    mqtt.setPeople(['José María']);
    await until(
      () => late.on('homeassistant/binary_sensor/vigil/person_anna/config').some((m) => m.text === ''),
      'removal',
    );

    expect(await sinks.deliveries('mqtt', 'delivered')).toBe(3);
    expect(await sinks.deliveries('websocket', 'delivered')).toBe(3);
    expect(sinks.viewers).toHaveLength(3);
    await sinks.stop();
    await until(() => late.on('vigil/availability').at(-1)?.text === 'offline', 'offline on stop');
    await sub.client.endAsync();
    await late.client.endAsync();
  });

  it('queues alerts while the broker is down and delivers them in order when it is back', async () => {
    // a persistent subscriber: its subscription survives the broker's restart (autosaved)
    const sub = await subscriber(broker.url, ['vigil/events'], {
      clientId: 'test-restart',
      persistent: true,
    });
    const sinks = await startSinks(configFile('restart', { url: broker.url, reconnectMs: 300 }));
    const mqtt = sinks.mqtt;
    if (!mqtt) throw new Error('mqtt sink not started');
    await until(() => mqtt.isConnected, 'the sink to connect');
    const first = sinks.raise('Anna', 4);
    await until(() => sub.messages.length === 1, 'the first alert');
    await new Promise((r) => setTimeout(r, 1500)); // the broker autosaves the subscriber's session
    await broker.kill();
    await until(() => !mqtt.isConnected, 'the sink to notice');
    const t0 = performance.now();
    const meanwhile = [1, 2, 3, 4, 5].map((i) => sinks.raise(i % 2 ? 'unknown' : 'Anna', i % 2 ? null : 4));
    expect(performance.now() - t0).toBeLessThan(200); // the pipeline only appends to a queue
    expect(mqtt.pending).toBe(5);
    expect((await sinks.metrics.mqttQueued.get()).values[0]?.value).toBe(5);
    expect(await sinks.deliveries('mqtt', 'retried')).toBeGreaterThanOrEqual(5);
    await broker.start();
    await until(() => sub.messages.length === 6, 'the queued alerts after the restart', 20_000);
    expect(sub.messages.map((m) => json(m).id)).toEqual([first, ...meanwhile].map((a) => a.id));
    const delivered = () => sinks.deliveries('mqtt', 'delivered');
    await until(() => mqtt.pending === 0, 'the acknowledgements');
    expect(await delivered()).toBe(6);
    expect(await sinks.deliveries('mqtt', 'dropped')).toBe(0);
    expect((await sinks.metrics.mqttQueued.get()).values[0]?.value).toBe(0);
    await sinks.stop();
    await sub.client.endAsync();
  }, 60_000);

  it('keeps at most maxQueued alerts while no broker answers, dropping the oldest (counted)', async () => {
    const sinks = await startSinks(configFile('bound', { url: 'mqtt://127.0.0.1:1', maxQueued: 2 }));
    for (let i = 0; i < 5; i++) sinks.raise('unknown', null);
    expect(sinks.mqtt?.pending).toBe(2);
    expect(await sinks.deliveries('mqtt', 'dropped')).toBe(3);
    expect((await sinks.metrics.mqttQueued.get()).values[0]?.value).toBe(2);
    await sinks.stop();
    expect(await sinks.deliveries('mqtt', 'dropped')).toBe(5); // shutdown drops what still waited
  });
});

describe.skipIf(skip)('MQTT broker refusing the credentials (running Vigil)', () => {
  it('logs one clear line naming the broker (password hidden) and the pipeline runs on', async () => {
    const broker = await startBroker({ users: { vigil: 'the-right-password' } });
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(...String(chunk).split('\n').filter(Boolean));
        done();
      },
    });
    const url = `mqtt://vigil:wrong-secret-pw@127.0.0.1:${broker.port}`;
    const cfg = configFile(
      'refused',
      { url, reconnectMs: 200 },
      { pipeline: 'passthrough', server: { port: 0 } },
    );
    const vigil = await Vigil.start(cfg, { logger: pino({ level: 'info' }, sink) });
    try {
      const decoded = async () =>
        (await vigil.metrics.framesDecoded.get()).values.reduce((s, v) => s + v.value, 0);
      await until(() => lines.some((l) => l.includes('refused')), 'the refusal line');
      const before = await decoded();
      await new Promise((r) => setTimeout(r, 1500)); // several reconnect attempts
      expect(await decoded()).toBeGreaterThan(before);
      const refusals = lines.filter((l) => l.includes('refused the connection'));
      expect(refusals).toHaveLength(1);
      const msg = JSON.parse(refusals[0] as string).msg as string;
      expect(msg).toBe(
        `mqtt: mqtt://***@127.0.0.1:${broker.port}: the broker refused the connection: Connection refused: Not authorized`,
      );
      expect(lines.join('\n')).not.toContain('wrong-secret-pw');
      expect(JSON.parse(refusals[0] as string).level).toBe(50);
      // the right password (VIGIL_MQTT_PASSWORD, as for a config without one) is let in
      process.env.VIGIL_MQTT_PASSWORD = 'the-right-password';
      const ok = await startSinks(configFile('accepted', { url: broker.url, username: 'vigil' }));
      delete process.env.VIGIL_MQTT_PASSWORD;
      await until(() => ok.mqtt?.isConnected === true, 'the right password to connect');
      ok.raise('unknown', null);
      await until(() => ok.mqtt?.pending === 0, 'the alert to be acknowledged');
      expect(await ok.deliveries('mqtt', 'delivered')).toBe(1);
      await ok.stop();
    } finally {
      delete process.env.VIGIL_MQTT_PASSWORD;
      await vigil.stop();
      await broker.stop();
    }
  }, 60_000);
});
