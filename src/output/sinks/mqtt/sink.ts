/**
 * MQTT sink (mqtt.js): alerts on `<prefix>/events`, `<prefix>/<camera>/face` (+ the snapshot JPEG)
 * and `<prefix>/people/<name>`, camera states and availability retained with a last will, Home
 * Assistant discovery, optionally Frigate-shaped `frigate/events`. Alerts wait in one ordered,
 * bounded queue and are published one after another at QoS 1; while the broker is away they stay
 * queued (the oldest dropped past `maxQueued`, counted) and go out in order once it is back. The
 * pipeline only ever appends to the queue.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { FaceAlert } from '../../../faces/alerts.js';
import { redactSecrets, redactUrl } from '../../../util/redact-url.js';
import type { MqttSinkConfig } from '../config.js';
import type { AlertSink, DeliveryCounter, SinkLog } from '../sink.js';
import {
  cameraDiscovery,
  type DiscoveryMessage,
  type DiscoveryOptions,
  personDiscovery,
  personRemoval,
} from './discovery.js';
import { alertPayload, frigatePayload, type Topics, topics } from './topics.js';

export interface MqttSinkDeps {
  count: DeliveryCounter;
  log: SinkLog;
  /** Alerts waiting for the broker (the `vigil_mqtt_queued` gauge). */
  queued?: (n: number) => void;
  /** 1 while connected (the `vigil_mqtt_connected` gauge). */
  connected?: (up: boolean) => void;
  /** Stream ids: each gets its discovery entities and a state topic. */
  cameras: readonly string[];
  version: string;
}

interface Queued {
  alert: FaceAlert;
  snapshot?: Buffer;
}

const RETAINED = { qos: 1, retain: true } as const;

/** mqtt.js options from the config: credentials, TLS files (read now: a wrong path fails the start). */
function clientOptions(cfg: MqttSinkConfig & { url: string }, availability: string): IClientOptions {
  const read = (key: 'ca' | 'cert' | 'key') => {
    const path = cfg.tls?.[key];
    if (!path) return undefined;
    try {
      return readFileSync(path);
    } catch (e) {
      throw new Error(`mqtt.tls.${key}: cannot read ${path}: ${(e as Error).message}`);
    }
  };
  return {
    clientId: cfg.clientId ?? `vigil-${cfg.topicPrefix.replace(/[^\w-]/g, '_')}-${hostname()}`.slice(0, 128),
    username: cfg.username,
    password: cfg.password,
    protocolVersion: 4,
    clean: true,
    reconnectPeriod: cfg.reconnectMs,
    reconnectOnConnackError: true,
    connectTimeout: 10_000,
    will: { topic: availability, payload: Buffer.from('offline'), ...RETAINED },
    ...(cfg.tls
      ? {
          ca: read('ca'),
          cert: read('cert'),
          key: read('key'),
          rejectUnauthorized: cfg.tls.rejectUnauthorized,
        }
      : {}),
  };
}

export class MqttSink implements AlertSink {
  readonly name = 'mqtt';
  private readonly client: MqttClient;
  private readonly t: Topics;
  private readonly broker: string;
  private readonly secrets: string[];
  private readonly discovery: DiscoveryOptions;
  private readonly queue: Queued[] = [];
  private inFlight: Queued | undefined;
  private readonly states = new Map<string, string>();
  private people = new Set<string>();
  /** Every camera announced (discovery), the configured ones and those added later. */
  private readonly cameras: Set<string>;
  private lastProblem: string | undefined;
  private closed = false;

  constructor(
    private readonly cfg: MqttSinkConfig & { url: string },
    private readonly deps: MqttSinkDeps,
  ) {
    this.t = topics(cfg.topicPrefix);
    this.cameras = new Set(deps.cameras);
    this.broker = redactUrl(cfg.url);
    this.secrets = cfg.password ? [cfg.password] : [];
    this.discovery = {
      discoveryPrefix: cfg.homeAssistant.discoveryPrefix,
      topicPrefix: cfg.topicPrefix,
      presenceSeconds: cfg.homeAssistant.presenceSeconds,
      version: deps.version,
    };
    this.client = mqtt.connect(cfg.url, clientOptions(cfg, this.t.availability));
    this.client.on('connect', () => this.onConnect());
    this.client.on('error', (e) => this.onProblem(e));
    this.client.on('close', () => deps.connected?.(false));
    this.client.on('message', (topic, payload) => {
      // Home Assistant restarted: it asks for discovery again by its birth message
      if (topic === this.haStatus && payload.toString() === 'online') this.announce();
    });
  }

  private get haStatus(): string {
    return `${this.cfg.homeAssistant.discoveryPrefix}/status`;
  }

  get isConnected(): boolean {
    return this.client.connected;
  }

  /** Alerts not yet acknowledged by the broker (waiting, or being published). */
  get pending(): number {
    return this.queue.length + (this.inFlight ? 1 : 0);
  }

  deliver(alert: FaceAlert, snapshot?: Buffer): void {
    if (this.closed) return;
    this.queue.push({ alert, snapshot });
    if (this.pending > this.cfg.maxQueued) {
      this.queue.shift(); // the oldest waiting one (the one being published is already on the wire)
      this.deps.count(this.name, 'dropped');
    }
    if (!this.client.connected) this.deps.count(this.name, 'retried');
    this.deps.queued?.(this.pending);
    void this.pump();
  }

  /** A camera's state (connecting, live, retrying, ...), retained; re-sent on every connect. */
  setCameraState(camera: string, state: string): void {
    this.states.set(camera, state);
    if (this.client.connected) this.send(this.t.state(camera), state, RETAINED);
  }

  /** A camera added while running (cluster mode): announced now if connected, else on connect. */
  addCamera(camera: string): void {
    if (this.cameras.has(camera)) return;
    this.cameras.add(camera);
    if (this.client.connected && this.cfg.homeAssistant.enabled)
      for (const m of cameraDiscovery(camera, this.t, this.discovery)) this.sendDiscovery(m);
  }

  /** The enrolled people: a presence sensor each; sensors of people no longer enrolled are removed. */
  setPeople(names: Iterable<string>): void {
    const next = new Set(names);
    const gone = [...this.people].filter((n) => !next.has(n));
    const added = [...next].filter((n) => !this.people.has(n));
    this.people = next;
    if (!this.client.connected || !this.cfg.homeAssistant.enabled) return;
    for (const n of gone) this.sendDiscovery(personRemoval(n, this.discovery));
    for (const n of added) this.sendDiscovery(personDiscovery(n, this.t, this.discovery));
  }

  private onConnect(): void {
    this.lastProblem = undefined;
    this.deps.connected?.(true);
    this.deps.log.info({ broker: this.broker }, `mqtt: connected to ${this.broker}`);
    this.send(this.t.availability, 'online', RETAINED);
    for (const [camera, state] of this.states) this.send(this.t.state(camera), state, RETAINED);
    if (this.cfg.homeAssistant.enabled) {
      this.announce();
      this.client.subscribe(this.haStatus, { qos: 0 }, () => {});
    }
    void this.pump();
  }

  /** Publishes every discovery config (retained). */
  private announce(): void {
    if (!this.cfg.homeAssistant.enabled) return;
    for (const camera of this.cameras)
      for (const m of cameraDiscovery(camera, this.t, this.discovery)) this.sendDiscovery(m);
    for (const n of this.people) this.sendDiscovery(personDiscovery(n, this.t, this.discovery));
  }

  private sendDiscovery(m: DiscoveryMessage): void {
    this.send(m.topic, m.payload, RETAINED);
  }

  /** Fire-and-forget for state: re-sent on the next connect anyway. */
  private send(topic: string, payload: string | Buffer, opts: { qos: 0 | 1; retain: boolean }): void {
    this.client.publish(topic, payload, opts, (e) => {
      if (e && !this.closed) this.deps.log.warn({ topic }, `mqtt: publish failed: ${this.redact(e.message)}`);
    });
  }

  /** One line per distinct problem (not one per reconnect attempt), naming the broker and the reason. */
  private onProblem(e: Error & { code?: string | number }): void {
    const reason =
      typeof e.code === 'number'
        ? `the broker refused the connection: ${e.message}`
        : `cannot reach the broker: ${e.message}`;
    const line = this.redact(`mqtt: ${this.broker}: ${reason}`);
    if (line === this.lastProblem) return;
    this.lastProblem = line;
    const log = typeof e.code === 'number' ? this.deps.log.error : this.deps.log.warn;
    log.call(this.deps.log, { broker: this.broker, queued: this.pending }, line);
  }

  private redact(text: string): string {
    return redactSecrets(text, this.secrets);
  }

  /** Publishes the queue in order, one alert at a time, while connected. */
  private async pump(): Promise<void> {
    if (this.inFlight) return;
    while (!this.closed && this.client.connected) {
      const item = this.queue.shift();
      if (!item) break;
      this.inFlight = item;
      try {
        await this.publishAlert(item);
        this.deps.count(this.name, 'delivered');
      } catch (e) {
        if (this.closed) break;
        // the connection went while it was out: first again, once the broker is back
        this.queue.unshift(item);
        this.deps.count(this.name, 'retried');
        this.deps.log.warn(
          { alert: item.alert.id },
          `mqtt: alert not acknowledged: ${this.redact((e as Error).message)}`,
        );
        break;
      } finally {
        this.inFlight = undefined;
        this.deps.queued?.(this.pending);
      }
    }
  }

  /** Every message of one alert; resolves when the broker acknowledged all of them (QoS 1). */
  private async publishAlert({ alert, snapshot }: Queued): Promise<void> {
    const json = JSON.stringify(alertPayload(alert));
    const out: Array<Promise<unknown>> = [
      this.client.publishAsync(this.t.events, json, { qos: 1 }),
      this.client.publishAsync(this.t.face(alert.camera), json, RETAINED),
    ];
    if (snapshot) out.push(this.client.publishAsync(this.t.snapshot(alert.camera), snapshot, RETAINED));
    if (alert.person_id !== null)
      out.push(this.client.publishAsync(this.t.person(alert.sub_label), json, { qos: 1 }));
    if (this.cfg.frigateCompatible)
      out.push(this.client.publishAsync('frigate/events', JSON.stringify(frigatePayload(alert)), { qos: 1 }));
    await Promise.all(out);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const lost = this.pending;
    for (let i = 0; i < lost; i++) this.deps.count(this.name, 'dropped');
    if (lost)
      this.deps.log.warn({ broker: this.broker, alerts: lost }, 'mqtt: stopping with alerts not delivered');
    this.queue.length = 0;
    this.deps.queued?.(0);
    if (this.client.connected) {
      // a clean stop is not a lost connection: say offline ourselves (the will is for crashes)
      await Promise.race([
        this.client.publishAsync(this.t.availability, 'offline', RETAINED),
        new Promise((r) => setTimeout(r, 2000).unref()),
      ]).catch(() => {});
    }
    await this.client.endAsync(true).catch(() => {});
    this.deps.connected?.(false);
  }
}
