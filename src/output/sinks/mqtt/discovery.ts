/**
 * Home Assistant MQTT discovery (https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery):
 * retained config messages at `<discoveryPrefix>/<component>/<node_id>/<object_id>/config`. Per
 * camera a "last recognised face" sensor, a stream state sensor and an `image` entity fed with the
 * snapshot JPEG; per enrolled person a presence `binary_sensor` that turns off (and expires) a while
 * after their last alert. All share `<prefix>/availability`, which the broker sets to "offline"
 * (the last will) when Vigil goes away.
 */
import { objectId, type Topics } from './topics.js';

export interface DiscoveryMessage {
  topic: string;
  /** JSON config; the empty string removes the entity (a person deleted from the gallery). */
  payload: string;
}

export interface DiscoveryOptions {
  discoveryPrefix: string;
  topicPrefix: string;
  presenceSeconds: number;
  version: string;
}

const origin = (o: DiscoveryOptions) => ({ name: 'Vigil', sw_version: o.version });

function common(t: Topics, o: DiscoveryOptions) {
  return {
    availability: [{ topic: t.availability, payload_available: 'online', payload_not_available: 'offline' }],
    origin: origin(o),
  };
}

/** The Vigil instance itself, the device people's sensors belong to and cameras hang off. */
function hubDevice(node: string, o: DiscoveryOptions) {
  return {
    identifiers: [node],
    name: `Vigil (${o.topicPrefix})`,
    manufacturer: 'Vigil',
    model: 'Vigil',
    sw_version: o.version,
  };
}

function cameraDevice(node: string, camera: string, o: DiscoveryOptions) {
  return {
    identifiers: [`${node}_${camera}`],
    name: `Vigil ${camera}`,
    manufacturer: 'Vigil',
    model: 'Vigil camera',
    sw_version: o.version,
    via_device: node,
  };
}

const entry = (o: DiscoveryOptions, component: string, node: string, id: string, config: object) => ({
  topic: `${o.discoveryPrefix}/${component}/${node}/${id}/config`,
  payload: JSON.stringify(config),
});

/** The three entities of one camera. */
export function cameraDiscovery(camera: string, t: Topics, o: DiscoveryOptions): DiscoveryMessage[] {
  const node = objectId(o.topicPrefix);
  const device = cameraDevice(node, camera, o);
  const base = { ...common(t, o), device };
  return [
    entry(o, 'sensor', node, `${camera}_last_face`, {
      ...base,
      name: 'Last recognised face',
      unique_id: `${node}_${camera}_last_face`,
      state_topic: t.face(camera),
      value_template: '{{ value_json.sub_label }}',
      json_attributes_topic: t.face(camera),
      icon: 'mdi:face-recognition',
    }),
    entry(o, 'image', node, `${camera}_snapshot`, {
      ...base,
      name: 'Last face snapshot',
      unique_id: `${node}_${camera}_snapshot`,
      image_topic: t.snapshot(camera),
      content_type: 'image/jpeg',
    }),
    entry(o, 'sensor', node, `${camera}_state`, {
      ...base,
      name: 'Stream state',
      unique_id: `${node}_${camera}_state`,
      state_topic: t.state(camera),
      icon: 'mdi:cctv',
    }),
  ];
}

function personTopic(name: string, o: DiscoveryOptions): string {
  return `${o.discoveryPrefix}/binary_sensor/${objectId(o.topicPrefix)}/person_${objectId(name)}/config`;
}

/** One person's presence sensor: ON with each of their alerts, off `presenceSeconds` later. */
export function personDiscovery(name: string, t: Topics, o: DiscoveryOptions): DiscoveryMessage {
  const node = objectId(o.topicPrefix);
  return {
    topic: personTopic(name, o),
    payload: JSON.stringify({
      ...common(t, o),
      device: hubDevice(node, o),
      name: `${name} present`,
      unique_id: `${node}_person_${objectId(name)}`,
      device_class: 'presence',
      state_topic: t.person(name),
      value_template: "{{ 'ON' if value_json.sub_label is defined else 'OFF' }}",
      payload_on: 'ON',
      payload_off: 'OFF',
      off_delay: o.presenceSeconds,
      expire_after: o.presenceSeconds,
      json_attributes_topic: t.person(name),
    }),
  };
}

/** Removes a person's sensor (an empty retained config). */
export function personRemoval(name: string, o: DiscoveryOptions): DiscoveryMessage {
  return { topic: personTopic(name, o), payload: '' };
}
