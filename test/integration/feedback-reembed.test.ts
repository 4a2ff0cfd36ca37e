/**
 * Operator feedback survives a model change (#14 item 4): a "wrong" negative and an "ignored" face
 * keep the face they came from (snapshots expire, so the entry stores it), and `reembed` computes
 * their vectors in the new space as it does for enrolled photos. Real models, real SQLite.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { snapshotPhoto } from '../../src/faces/alert-enroll.js';
import { dot } from '../../src/faces/metrics.js';
import { FeedbackStore } from '../../src/faces/gallery/feedback.js';
import type { Gallery } from '../../src/faces/gallery/gallery.js';
import { embedDim } from '../../src/faces/tasks/index.js';
import type { InferenceHost } from '../../src/inference/host.js';
import {
  facePhotosMissing,
  openGallery,
  photo,
  recognizeSettings,
  serviceOn,
  startHost,
} from '../helpers/faces.js';
import { skipUnless } from '../helpers/requirements.js';

const box = recognizeSettings();
const alt = recognizeSettings({ align: true, context: 1.2 });

describe.skipIf(skipUnless(facePhotosMissing(), 'feedback re-embedding'))(
  'feedback vectors are re-embedded with the gallery after a model change',
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-feedback-reembed-'));
    const file = join(dir, 'vigil.db');
    const hosts: InferenceHost[] = [];
    const galleries: Gallery[] = [];
    let obama = 0;

    beforeAll(async () => {
      hosts.push(await startHost(box.rec));
    }, 120_000);
    afterAll(async () => {
      for (const g of galleries) g.close();
      await Promise.all(hosts.map((h) => h.close()));
      rmSync(dir, { recursive: true, force: true });
    });

    it('stores the face with a negative and an ignored face, in the space it was given in', async () => {
      const g = openGallery(file, box.rec.model, box.space, embedDim(hosts[0] as InferenceHost));
      galleries.push(g);
      const { service, detach } = serviceOn(hosts[0] as InferenceHost, g, box.rec, box.threshold);
      try {
        obama = (await service.enroll('obama', [photo('obama', 'obama.jpg')])).id;
        const store = new FeedbackStore(g);
        const biden = await snapshotPhoto(service.engine, photo('biden', 'biden.jpg'), undefined, 'biden');
        const poster = await snapshotPhoto(
          service.engine,
          photo('rose_leslie', 'img1.jpg'),
          undefined,
          'rose',
        );
        store.wrong(null, obama, biden);
        store.ignore(null, 'door', poster);
        const m = g.matrix().feedback;
        expect(m?.negatives.get(obama)).toHaveLength(1);
        expect(m?.ignored.map((i) => i.camera)).toEqual(['door']);
        expect(store.facesToEmbed()).toEqual([]);
      } finally {
        detach();
      }
    }, 120_000);

    it('a new space starts without them; reembed restores both, as the new model sees those faces', async () => {
      expect(alt.space).not.toBe(box.space);
      const host = await startHost(alt.rec);
      hosts.push(host);
      const g = openGallery(file, alt.rec.model, alt.space, embedDim(host));
      galleries.push(g);
      const store = new FeedbackStore(g);
      expect(g.matrix().feedback?.negatives.size).toBe(0);
      expect(g.matrix().feedback?.ignored).toEqual([]);
      expect(store.facesToEmbed()).toHaveLength(2);

      const { service, detach } = serviceOn(host, g, alt.rec, alt.threshold);
      try {
        const progress: Array<[number, number]> = [];
        expect(await service.reembed((d, t) => progress.push([d, t]))).toBe(3); // 1 photo + 2 faces
        expect(progress.at(-1)).toEqual([3, 3]);
        expect(store.facesToEmbed()).toEqual([]);
        const m = g.matrix().feedback;
        const negative = m?.negatives.get(obama)?.[0];
        const ignored = m?.ignored[0];
        expect(negative).toBeDefined();
        expect(ignored?.camera).toBe('door');
        // The stored vectors are the new model's view of the same faces.
        const biden = await snapshotPhoto(service.engine, photo('biden', 'biden.jpg'), undefined, 'biden');
        const rose = await snapshotPhoto(service.engine, photo('rose_leslie', 'img1.jpg'), undefined, 'rose');
        expect(dot(negative as Float32Array, biden.embedding)).toBeGreaterThan(0.99);
        expect(dot(ignored?.vector as Float32Array, rose.embedding)).toBeGreaterThan(0.99);
        expect(dot(negative as Float32Array, rose.embedding)).toBeLessThan(0.9);
        expect(await service.reembed()).toBe(0);
      } finally {
        detach();
      }
    }, 180_000);
  },
);
