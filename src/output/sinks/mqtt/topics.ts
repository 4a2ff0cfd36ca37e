/**
 * MQTT topic names and the payloads published on them (documented in docs/mqtt.md). A person's
 * name becomes a topic level: Unicode is kept (topics are UTF-8), but the characters MQTT gives a
 * meaning (`/` separates levels, `+` and `#` are wildcards) and control characters are not.
 */
import { createHash } from 'node:crypto';
import type { FaceAlert } from '../../../faces/alerts.js';

const shortHash = (s: string) => createHash('sha1').update(s).digest('hex').slice(0, 8);

/** A person's name as one topic level: "José María" -> "josé_maría", "a/b+c" -> "a_b_c". */
export function topicSlug(name: string): string {
  const slug = name
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[\p{Cc}\p{Cf}\p{Co}\p{Cs}]/gu, '')
    .replace(/[/+#\s\p{Z}]+/gu, '_')
    .replace(/_+/g, '_')
    .replace(/^_|_$/g, '')
    .slice(0, 100);
  return slug || `person_${shortHash(name)}`;
}

/**
 * The same as an id Home Assistant accepts in a discovery topic and unique_id ([a-z0-9_] only):
 * accents are stripped, and a name that loses anything else gets a hash so two names stay apart.
 */
export function objectId(name: string): string {
  const slug = topicSlug(name);
  const ascii = slug
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .replace(/[^a-z0-9_]+/g, '_')
    .replace(/_+/g, '_')
    .replace(/^_|_$/g, '');
  const lossless = ascii === slug.normalize('NFKD').replace(/\p{M}/gu, '');
  return lossless && ascii ? ascii : `${ascii || 'person'}_${shortHash(name)}`;
}

/** Every topic Vigil publishes under `prefix`. */
export function topics(prefix: string) {
  return {
    events: `${prefix}/events`,
    availability: `${prefix}/availability`,
    face: (camera: string) => `${prefix}/${camera}/face`,
    snapshot: (camera: string) => `${prefix}/${camera}/snapshot`,
    state: (camera: string) => `${prefix}/${camera}/state`,
    person: (name: string) => `${prefix}/people/${topicSlug(name)}`,
  };
}
export type Topics = ReturnType<typeof topics>;

/** The alert as published on `<prefix>/events`, `<prefix>/<camera>/face` and `<prefix>/people/<name>`. */
export function alertPayload(alert: FaceAlert): FaceAlert & { name: string | null } {
  return { ...alert, name: alert.person_id === null ? null : alert.sub_label };
}

/** Frigate's event object (the fields Double Take and Frigate automations read). */
export function frigateEvent(alert: FaceAlert) {
  const known = alert.person_id !== null;
  return {
    id: `${alert.start_time.toFixed(6)}-vigil${alert.id}`,
    camera: alert.camera,
    frame_time: alert.start_time,
    label: 'person',
    sub_label: known ? [alert.sub_label, alert.score] : null,
    score: alert.score,
    top_score: alert.score,
    start_time: alert.start_time,
    end_time: null,
    false_positive: false,
    stationary: false,
    has_snapshot: alert.has_snapshot,
    has_clip: false,
    current_zones: [],
    entered_zones: [],
    snapshot_url: alert.snapshot_url,
  };
}

/** A `frigate/events` message: a new event, the same object before and after. */
export function frigatePayload(alert: FaceAlert) {
  const ev = frigateEvent(alert);
  return { type: 'new' as const, before: ev, after: ev };
}
