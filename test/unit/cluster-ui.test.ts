/**
 * The pure parts of the cluster's one UI: the relayed frame's layout and its checks, the
 * Prometheus file_sd groups and their atomic writer, the advertised URL, and the cluster-wide
 * stream list. The two-node test is test/integration/cluster-ui.test.ts.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { advertisedUrl } from '../../src/app/modules/cluster-ui.js';
import { clusterStreams } from '../../src/cluster/cluster-view.js';
import { decodeRelayedFrame, encodeRelayedFrame } from '../../src/cluster/frames-relay.js';
import { FileSdWriter, fileSdGroups } from '../../src/cluster/prometheus-sd.js';
import { ClusterSchema } from '../../src/config/schema.js';
import type { ClusterNodeEntry } from '../../src/defs/cluster.js';
import type { FrameHeader } from '../../src/defs/ws.js';

const header: FrameHeader = {
  type: 'frame',
  stream: 'cam1',
  seq: 7,
  captureTs: 1000,
  sentTs: 1001,
  width: 4,
  height: 4,
  detections: [],
  detectionSeq: null,
  annotated: false,
};

const node = (name: string, url: string | null, alive = true): ClusterNodeEntry => ({
  node: name,
  capacity: 4,
  held: 2,
  dropRate: 0,
  url,
  startedAt: 1,
  lastSeen: 2,
  alive,
});

describe('relayed frames', () => {
  it('carry the sender and the header, and the JPEG byte for byte', () => {
    const jpeg = Buffer.from([0xff, 0xd8, 1, 2, 3]);
    const f = decodeRelayedFrame(encodeRelayedFrame({ node: 'a', header }, jpeg));
    expect(f).toEqual({ node: 'a', header, jpeg });
  });

  it('refuse what is not one, saying why', () => {
    expect(decodeRelayedFrame(Buffer.from([1]))).toMatch(/shorter/);
    expect(decodeRelayedFrame(Buffer.from([200, 0, 0, 0, 1]))).toMatch(/beyond/);
    const bad = encodeRelayedFrame({ node: 'a', header: { ...header, seq: 'x' } as never }, Buffer.alloc(0));
    expect(decodeRelayedFrame(bad)).toMatch(/bad frame header: seq/);
    const noNode = encodeRelayedFrame({ node: 'a b', header }, Buffer.alloc(0));
    expect(decodeRelayedFrame(noNode)).toMatch(/bad meta/);
  });
});

describe('Prometheus file_sd', () => {
  it('one group per live node with a URL, host:port and its node label', () => {
    expect(
      fileSdGroups([
        node('b', 'http://10.0.0.2:8080'),
        node('a', 'http://node-a:9000/'),
        node('c', null),
        node('d', 'http://10.0.0.4:8080', false),
        node('e', 'https://e.example'),
      ]),
    ).toEqual([
      { targets: ['node-a:9000'], labels: { node: 'a' } },
      { targets: ['10.0.0.2:8080'], labels: { node: 'b' } },
      { targets: ['e.example:443'], labels: { node: 'e', __scheme__: 'https' } },
    ]);
  });

  it('is written by rename (no temp file left), only when it changed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-sd-unit-'));
    const path = join(dir, 'nodes.json');
    const w = new FileSdWriter(path);
    const groups = fileSdGroups([node('a', 'http://h:1')]);
    expect(w.write(groups)).toBe(true);
    expect(w.write(groups)).toBe(false);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual(groups);
    expect(w.write([])).toBe(true);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual([]);
    expect(readdirSync(dir)).toEqual(['nodes.json']);
  });
});

describe('advertised URL and cluster streams', () => {
  const cfg = ClusterSchema.parse({ nats: 'nats://n:4222', postgres: 'postgres://p/v', node: 'a' });

  it('cluster.advertiseUrl, else the listen address (the host name when listening on all)', () => {
    expect(advertisedUrl({ ...cfg, advertiseUrl: 'http://a.lan:8080/' }, { host: '0.0.0.0', port: 1 })).toBe(
      'http://a.lan:8080',
    );
    expect(advertisedUrl(cfg, { host: '127.0.0.1', port: 8080 })).toBe('http://127.0.0.1:8080');
    expect(advertisedUrl(cfg, { host: '0.0.0.0', port: 8080 })).toBe(`http://${hostname()}:8080`);
    expect(advertisedUrl(cfg, { host: '::1', port: 8080 })).toBe('http://[::1]:8080');
  });

  it('lists every camera with its node: local status here, remote or unassigned elsewhere', () => {
    const overview = {
      self: 'a',
      nodes: [],
      cameras: [
        { id: 'c1', node: 'a', revision: 3, acquiredAt: 1 },
        { id: 'c2', node: 'b', revision: 4, acquiredAt: 1 },
      ],
    };
    const local = (id: string) => (id === 'c1' ? { id, state: 'live' } : undefined);
    expect(clusterStreams(overview, ['c1', 'c2', 'c3'], local)).toEqual([
      { id: 'c1', state: 'live', node: 'a' },
      { id: 'c2', state: 'remote', node: 'b' },
      { id: 'c3', state: 'unassigned', node: null },
    ]);
  });
});
