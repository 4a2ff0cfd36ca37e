/**
 * Alerts and unknown-face sightings across the cluster, at least once into JetStream and exactly
 * once out of it:
 *   - publish: each event goes to `vigil.events.<kind>.<camera>` on the stream VIGIL_EVENTS with
 *     its id as Nats-Msg-Id, so a retried publish is dropped by the server's duplicate window; an
 *     event raised while NATS is away waits in memory (bounded) and is retried with backoff;
 *   - store and deliver: every node pulls from one durable consumer (a consumer group: each
 *     message goes to one node), inserts the event into PostgreSQL by id (a redelivery inserts
 *     nothing), claims it, hands it to the sinks (webhooks, MQTT), marks it delivered, and only
 *     then acks. A message whose row is already delivered is acked without delivering again;
 *     PostgreSQL away: the message is nak'ed with a delay and comes back;
 *   - dedupe: an event with a `dedupe` key is stored as the duplicate of an earlier one of the
 *     same camera and key within its window (checked under a per-camera advisory lock, so two
 *     nodes storing at once see each other) and never delivered.
 */
import { AckPolicy, jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import { type NatsConnection, nanos } from '@nats-io/transport-node';
import type pg from 'pg';
import { ClusterEvent } from '../defs/cluster.js';
import type { Logger } from '../log.js';
import { type Backoff, backoffDelay } from './backoff.js';
import { inTx } from './pg-tx.js';

export const EVENTS_STREAM = 'VIGIL_EVENTS';
export const EVENTS_CONSUMER = 'vigil-store';
const DUPLICATE_WINDOW_MS = 120_000;
const OUTBOX_LIMIT = 10_000;

export async function ensureEventsStream(nc: NatsConnection): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const cfg = {
    name: EVENTS_STREAM,
    subjects: ['vigil.events.>'],
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
  };
  await jsm.streams.add(cfg).catch(async (e) => {
    if (!/already in use|exists/i.test((e as Error).message)) throw e;
  });
  await jsm.consumers
    .add(EVENTS_STREAM, {
      durable_name: EVENTS_CONSUMER,
      ack_policy: AckPolicy.Explicit,
      // a paused or partitioned node's pulled events go to another node after this long
      ack_wait: nanos(10_000),
      max_deliver: -1,
    })
    .catch((e) => {
      if (!/already|exists/i.test((e as Error).message)) throw e;
    });
}

export async function migrateEvents(pool: pg.Pool): Promise<void> {
  await pool.query(`
    CREATE TABLE IF NOT EXISTS cluster_events (
      id text PRIMARY KEY,
      kind text NOT NULL,
      camera text NOT NULL,
      node text NOT NULL,
      lease_revision bigint NOT NULL,
      at bigint NOT NULL,
      payload jsonb NOT NULL,
      stored_at timestamptz NOT NULL DEFAULT now(),
      claimed_by text,
      claimed_at timestamptz,
      delivered_at timestamptz
    )`);
  await pool.query(`
    ALTER TABLE cluster_events ADD COLUMN IF NOT EXISTS dedupe_key text;
    ALTER TABLE cluster_events ADD COLUMN IF NOT EXISTS embedding bytea;
    ALTER TABLE cluster_events ADD COLUMN IF NOT EXISTS duplicate_of text;
    CREATE INDEX IF NOT EXISTS cluster_events_dedupe ON cluster_events (camera, dedupe_key, at);
    CREATE INDEX IF NOT EXISTS cluster_events_at ON cluster_events (at)`);
}

/** Publishes events; keeps them (bounded) and retries while NATS is away. */
export class EventPublisher {
  private readonly queue: ClusterEvent[] = [];
  private flushing = false;
  private stopped = false;
  private readonly js: JetStreamClient;
  /** Events given up because the outbox was full (oldest first). */
  dropped = 0;

  constructor(
    nc: NatsConnection,
    private readonly retry: Backoff,
    private readonly log: Logger,
  ) {
    this.js = jetstream(nc, { timeout: 2000 });
  }

  publish(event: ClusterEvent): void {
    this.queue.push(ClusterEvent.parse(event));
    if (this.queue.length > OUTBOX_LIMIT) {
      this.queue.shift();
      this.dropped++;
      this.log.error(
        { limit: OUTBOX_LIMIT },
        'cluster events: outbox full while NATS is away, oldest event dropped',
      );
    }
    void this.flush();
  }

  get pending(): number {
    return this.queue.length;
  }

  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      for (let retry = 0; this.queue.length && !this.stopped; ) {
        const e = this.queue[0] as ClusterEvent;
        try {
          await this.js.publish(`vigil.events.${e.kind}.${e.camera}`, JSON.stringify(e), { msgID: e.id });
          this.queue.shift();
          retry = 0;
        } catch (err) {
          const delay = backoffDelay(this.retry, retry++);
          this.log.warn(
            { err: (err as Error).message, pending: this.queue.length, delay },
            'cluster events: publish failed, retrying',
          );
          await new Promise((r) => setTimeout(r, delay));
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  stop(): void {
    this.stopped = true;
  }
}

export type Deliver = (event: ClusterEvent) => Promise<void>;

/** One node's share of the consumer group: store in PostgreSQL, deliver once, ack. */
export class EventStore {
  private running = true;
  private loop: Promise<void> | undefined;
  private messages: { stop(): void } | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly pool: pg.Pool,
    private readonly node: string,
    private readonly deliver: Deliver,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    const js = jetstream(this.nc);
    while (this.running) {
      try {
        const consumer = await js.consumers.get(EVENTS_STREAM, EVENTS_CONSUMER);
        // a few at a time: what a node that stops answering holds back waits for ack_wait
        const messages = await consumer.consume({ max_messages: 8 });
        this.messages = messages;
        for await (const m of messages) {
          if (!this.running) break;
          const parsed = ClusterEvent.safeParse(m.json());
          if (!parsed.success) {
            this.log.error({ seq: m.seq }, 'cluster events: malformed event dropped (term)');
            m.term();
            continue;
          }
          try {
            await this.handle(parsed.data);
            m.ack();
          } catch (e) {
            this.log.warn(
              { id: parsed.data.id, err: (e as Error).message },
              'cluster events: not stored yet, redelivered later',
            );
            m.nak(1000);
          }
        }
      } catch (e) {
        if (!this.running) return;
        this.log.warn({ err: (e as Error).message }, 'cluster events: consumer lost, resuming');
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  /** Stored once by id; delivered by whichever node claims it first, once; duplicates never. */
  private async handle(e: ClusterEvent): Promise<void> {
    await storeEvent(this.pool, e);
    const claim = await this.pool.query(
      `UPDATE cluster_events SET claimed_by = $2, claimed_at = now()
       WHERE id = $1 AND delivered_at IS NULL AND duplicate_of IS NULL
         AND (claimed_at IS NULL OR claimed_by = $2 OR claimed_at < now() - interval '60 seconds')
       RETURNING id`,
      [e.id, this.node],
    );
    if (!claim.rowCount) return; // delivered already (a redelivery), a duplicate, or another node is at it
    await this.deliver(e);
    await this.pool.query('UPDATE cluster_events SET delivered_at = now() WHERE id = $1', [e.id]);
  }

  async stop(): Promise<void> {
    this.running = false;
    this.messages?.stop();
    await Promise.race([this.loop, new Promise((r) => setTimeout(r, 1000))]);
  }
}

/** Inserts the event (once by id) and, when it has a dedupe key, marks it a duplicate if it is one. */
async function storeEvent(pool: pg.Pool, e: ClusterEvent): Promise<void> {
  // one camera's events stored one at a time across the cluster: each sees those before it
  await inTx(
    pool,
    async (client) => {
      const vector = e.dedupe?.embedding ? Buffer.from(e.dedupe.embedding, 'base64') : null;
      const inserted = await client.query(
        `INSERT INTO cluster_events (id, kind, camera, node, lease_revision, at, payload, dedupe_key, embedding)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING RETURNING id`,
        [
          e.id,
          e.kind,
          e.camera,
          e.node,
          e.leaseRevision,
          e.at,
          JSON.stringify(e.payload),
          e.dedupe?.key ?? null,
          vector,
        ],
      );
      if (!inserted.rowCount || !e.dedupe) return;
      const original = await earlierTwin(client, e, vector);
      if (original)
        await client.query('UPDATE cluster_events SET duplicate_of = $2 WHERE id = $1', [e.id, original]);
    },
    `vigil-events:${e.camera}`,
  );
}

/** The event this one repeats: same camera and key, within the window, similar enough if it says so. */
async function earlierTwin(
  client: pg.PoolClient,
  e: ClusterEvent,
  vector: Buffer | null,
): Promise<string | undefined> {
  const d = e.dedupe;
  if (!d) return undefined;
  const rows = await client.query<{ id: string; embedding: Buffer | null }>(
    `SELECT id, embedding FROM cluster_events
     WHERE camera = $1 AND dedupe_key = $2 AND id <> $3 AND duplicate_of IS NULL
       AND at > $4::bigint - $5::bigint AND at < $4::bigint + $5::bigint
     ORDER BY at`,
    [e.camera, d.key, e.id, e.at, d.windowMs],
  );
  for (const r of rows.rows) {
    if (!vector || d.minSimilarity === undefined) return r.id;
    if (r.embedding && cosine(vector, r.embedding) >= d.minSimilarity) return r.id;
  }
  return undefined;
}

/** Cosine similarity of two float32 LE vectors (stored unit length, but normalised anyway). */
function cosine(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length) / 4;
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < n; i++) {
    const x = a.readFloatLE(i * 4);
    const y = b.readFloatLE(i * 4);
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  return na && nb ? dot / Math.sqrt(na * nb) : 0;
}
