/**
 * The alert sinks' settings (zod only, so the config schema can use them without loading a
 * network client): webhooks and the viewers under `alerts`, MQTT at the top level as `mqtt`. Each
 * sink has its own retry policy.
 */
import { z } from 'zod';

/** Webhooks: tries per alert, with a doubling delay between them (1 s, 2 s, 4 s by default). */
export const WebhookRetrySchema = z
  .object({
    tries: z.number().int().min(1).max(20).default(4),
    baseDelayMs: z.number().int().min(1).max(600_000).default(1000),
    timeoutMs: z.number().int().min(100).max(120_000).default(5000),
    /** Alerts being POSTed at once; beyond this a new alert is dropped (counted). */
    maxPending: z.number().int().min(1).max(100_000).default(100),
  })
  .strict();

export const WebhookSinkSchema = z
  .object({
    url: z.url({ protocol: /^https?$/ }),
    headers: z.record(z.string(), z.string()).optional(),
    retry: WebhookRetrySchema.default(WebhookRetrySchema.parse({})),
  })
  .strict();
export type Webhook = z.input<typeof WebhookSinkSchema>;
export type WebhookSinkConfig = z.output<typeof WebhookSinkSchema>;

/** The viewers (WebSocket): connected pages get each alert; a page that connects later reads /api/alerts. */
export const WebSocketSinkSchema = z.object({ enabled: z.boolean().default(true) }).strict();

export const AlertSinksSchema = z
  .object({
    /** Every alert is POSTed as JSON to each of these, retried on network errors, 5xx and 429. */
    webhooks: z.array(WebhookSinkSchema).default([]),
    websocket: WebSocketSinkSchema.default({ enabled: true }),
  })
  .strict();
export type AlertSinksConfig = z.output<typeof AlertSinksSchema>;

const MqttUrl = z
  .string()
  .regex(
    /^(mqtts?|wss?|tcp|ssl):\/\/[^\s]+$/,
    'an mqtt://, mqtts://, ws:// or wss:// URL such as mqtt://127.0.0.1:1883',
  );

export const MqttSinkSchema = z
  .object({
    /** The broker; env VIGIL_MQTT_URL when not set here. */
    url: MqttUrl.optional(),
    username: z.string().min(1).optional(),
    /** Env VIGIL_MQTT_PASSWORD when not set here (never logged). */
    password: z.string().min(1).optional(),
    tls: z
      .object({
        /** PEM files: the CA that signed the broker's certificate, and a client certificate and key. */
        ca: z.string().min(1).optional(),
        cert: z.string().min(1).optional(),
        key: z.string().min(1).optional(),
        rejectUnauthorized: z.boolean().default(true),
      })
      .strict()
      .optional(),
    /** Topics are `<topicPrefix>/events`, `<topicPrefix>/<camera>/face`, ... */
    topicPrefix: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[^#+\s\p{Cc}]+$/u, 'no "#", "+", spaces or control characters')
      .refine((p) => !p.startsWith('/') && !p.endsWith('/'), 'no leading or trailing "/"')
      .default('vigil'),
    /** Default: `vigil-<topicPrefix>-<host name>`. */
    clientId: z.string().min(1).max(128).optional(),
    /** Also publish Frigate-shaped `frigate/events` messages (Double Take, Frigate automations). */
    frigateCompatible: z.boolean().default(false),
    /** Alerts kept while the broker is away; beyond this the oldest is dropped (counted). */
    maxQueued: z.number().int().min(1).max(1_000_000).default(1000),
    /** Home Assistant MQTT discovery under `<discoveryPrefix>/...` (retained). */
    homeAssistant: z
      .object({
        enabled: z.boolean().default(true),
        discoveryPrefix: z.string().min(1).default('homeassistant'),
        /** A person's presence sensor turns off / expires this long after their last alert. */
        presenceSeconds: z.number().int().min(1).max(86_400).default(300),
      })
      .strict()
      .default({ enabled: true, discoveryPrefix: 'homeassistant', presenceSeconds: 300 }),
    /** Reconnect to the broker this often while it is away. */
    reconnectMs: z.number().int().min(100).max(600_000).default(2000),
  })
  .strict();
export type MqttSinkConfig = z.output<typeof MqttSinkSchema>;

/** The MQTT settings in force: config values, else VIGIL_MQTT_URL / VIGIL_MQTT_PASSWORD; undefined: off. */
export function resolveMqtt(
  cfg: MqttSinkConfig | undefined,
  env: NodeJS.ProcessEnv = process.env,
): (MqttSinkConfig & { url: string }) | undefined {
  const envUrl = env.VIGIL_MQTT_URL || undefined;
  if (!cfg && !envUrl) return undefined;
  const base = cfg ?? MqttSinkSchema.parse({});
  let url = base.url;
  if (!url && envUrl) {
    const r = MqttUrl.safeParse(envUrl);
    if (!r.success) throw new Error(`VIGIL_MQTT_URL: ${r.error.issues[0]?.message}`);
    url = r.data;
  }
  if (!url) throw new Error('mqtt.url: required when mqtt is configured (or set VIGIL_MQTT_URL)');
  return { ...base, url, password: base.password ?? (env.VIGIL_MQTT_PASSWORD || undefined) };
}
