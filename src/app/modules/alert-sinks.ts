/**
 * The alert sinks (src/output/sinks/): the viewers over WebSocket, the configured webhooks, and MQTT
 * when `mqtt` or VIGIL_MQTT_URL is set, behind one fan-out the alert stage hands each alert to.
 * MQTT also carries every stream's state and, for Home Assistant, the enrolled people.
 * `alertPath` is how the alert stage raises an alert: stored here and handed to every sink on one
 * node; on a cluster node through the cluster's event stream (src/cluster/cluster-alerts.ts):
 * viewers here get every alert of the cluster, webhooks and MQTT each alert once in the cluster.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Gallery } from '../../faces/gallery/gallery.js';
import type { VigilMetrics } from '../../metrics/metrics.js';
import { resolveMqtt } from '../../output/sinks/config.js';
import { MqttSink } from '../../output/sinks/mqtt/sink.js';
import { type AlertSink, AlertFanOut, type DeliveryCounter } from '../../output/sinks/sink.js';
import { WebhookSink } from '../../output/sinks/webhook.js';
import { WebSocketSink } from '../../output/sinks/websocket.js';
import { type AlertSinks, storeThenPublish } from '../../pipeline/stages/alert.js';
import { ClusterAlerts } from '../../cluster/cluster-alerts.js';
import { PROJECT_ROOT } from '../../util/paths.js';
import { defineModule, type ModuleScope } from '../module.js';
import type { BaseContext } from './base.js';
import type { ClusterContext } from './cluster.js';
import type { ClusterLinkContext } from './cluster-link.js';
import type { FacesContext } from './faces.js';
import type { OutputContext } from './output.js';
import type { SourcesContext } from './sources.js';

export interface AlertSinksContext {
  readonly alertSinks: AlertFanOut;
  /** How the alert stage raises an alert (undefined without recognition). */
  readonly alertPath: AlertSinks | undefined;
  /** The cluster's alert path, on a cluster node (tests read its counters). */
  readonly clusterAlerts: ClusterAlerts | undefined;
  /** The MQTT sink when configured (tests read its state). */
  readonly mqtt: MqttSink | undefined;
}

type Needs = BaseContext &
  FacesContext &
  SourcesContext &
  OutputContext &
  ClusterLinkContext &
  ClusterContext;

// read from the project root, not relative to this file: benchmarks bundle it elsewhere
const VERSION = (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string })
  .version;

export const deliveryCounter =
  (metrics: VigilMetrics): DeliveryCounter =>
  (sink, result) =>
    metrics.alertDeliveries.inc({ sink, result });

export const alertSinksModule = defineModule<Needs, AlertSinksContext>({
  name: 'alert sinks',
  start: async (ctx, scope) => {
    const { config, hub, metrics, log, faces } = ctx;
    const count = deliveryCounter(metrics);
    const viewers: AlertSink[] = config.alerts.websocket.enabled ? [new WebSocketSink(hub, count)] : [];
    const others: AlertSink[] = [];
    if (config.alerts.webhooks.length) others.push(new WebhookSink(config.alerts.webhooks, count, log));
    const mqtt = startMqtt(ctx, count, scope);
    if (mqtt) others.push(mqtt);
    const alertSinks = new AlertFanOut([...viewers, ...others], log);
    scope.onStop(() => alertSinks.close());
    log.info({ sinks: alertSinks.sinks.map((s) => s.name) }, 'alert sinks ready');
    if (!faces) return { alertSinks, mqtt, alertPath: undefined, clusterAlerts: undefined };
    if (!ctx.clusterLink || !ctx.cluster) {
      const alertPath = storeThenPublish(faces.alerts, (a, snapshot) => alertSinks.publish(a, snapshot));
      return { alertSinks, mqtt, alertPath, clusterAlerts: undefined };
    }
    const toViewers = new AlertFanOut(viewers, log);
    const toOthers = new AlertFanOut(others, log);
    const clusterAlerts = await ClusterAlerts.open({
      ...ctx.clusterLink,
      store: faces.alerts,
      leases: ctx.cluster.leases,
      sameStranger: faces.threshold,
      deliver: (a, snapshot) => toOthers.publish(a, snapshot),
      show: (a, snapshot) => toViewers.publish(a, snapshot),
      log,
    });
    // stopped before the sinks close (registered after them)
    scope.onStop(() => clusterAlerts.stop());
    return { alertSinks, mqtt, alertPath: clusterAlerts, clusterAlerts };
  },
});

function startMqtt(ctx: Needs, count: DeliveryCounter, scope: ModuleScope): MqttSink | undefined {
  const { config, metrics, log, sourceSet, faces } = ctx;
  const cfg = resolveMqtt(config.mqtt);
  if (!cfg) return undefined;
  const sink = new MqttSink(cfg, {
    count,
    log,
    queued: (n) => metrics.mqttQueued.set(n),
    connected: (up) => metrics.mqttConnected.set(up ? 1 : 0),
    cameras: sourceSet.ids,
    version: VERSION,
  });
  scope.onStop(
    sourceSet.each((src) => {
      sink.addCamera(src.id);
      const sub = src.state$.subscribe((status) => sink.setCameraState(status.id, status.state));
      return () => sub.unsubscribe();
    }),
  );
  if (faces) followPeople(faces.gallery, sink, scope);
  return sink;
}

/** The enrolled people's names, now and after every gallery change (also by the CLI). */
function followPeople(gallery: Gallery, sink: MqttSink, scope: ModuleScope): void {
  sink.setPeople(gallery.list().map((p) => p.name));
  scope.onStop(gallery.onChange(() => sink.setPeople(gallery.list().map((p) => p.name))));
}
