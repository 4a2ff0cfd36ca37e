/**
 * Alert snapshots keep where their face is (#19 item 7): the box and keypoints mapped into the
 * snapshot's pixels land on the face in the JPEG, the alerts table gains the column without losing
 * old rows, and a stored position that is missing or unreadable reads as absent (the face is then
 * searched for), never as a wrong box.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { AlertStore } from '../../src/faces/alerts.js';
import { faceSnapshot } from '../../src/faces/snapshot.js';
import { decodeImage } from '../../src/util/image.js';
import type { RgbImage } from '../../src/util/rgb.js';

const dir = mkdtempSync(join(tmpdir(), 'vigil-alert-snap-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A grey frame with a red square (the "face") and a white dot (a keypoint) inside it. */
function frame(
  w: number,
  h: number,
  face: [number, number, number, number],
  dot: [number, number],
): RgbImage {
  const pixels = new Uint8Array(w * h * 3).fill(90);
  for (let y = face[1]; y < face[3]; y++)
    for (let x = face[0]; x < face[2]; x++) pixels.set([220, 20, 20], (y * w + x) * 3);
  for (let y = dot[1] - 2; y <= dot[1] + 2; y++)
    for (let x = dot[0] - 2; x <= dot[0] + 2; x++) pixels.set([255, 255, 255], (y * w + x) * 3);
  return { width: w, height: h, pixels };
}

const at = (img: RgbImage, x: number, y: number) => {
  const i = (Math.round(y) * img.width + Math.round(x)) * 3;
  return [img.pixels[i], img.pixels[i + 1], img.pixels[i + 2]] as number[];
};
const red = (p: number[]) => (p[0] as number) > 170 && (p[1] as number) < 80;

const alert = {
  camera: 'door',
  sub_label: 'unknown',
  person_id: null,
  score: 0.2,
  track_id: 1,
  start_time: 1_700_000_000,
};

describe('alert snapshots with the position of their face', () => {
  it('maps the box and keypoints into the snapshot: a small face upscaled, with its margin around it', async () => {
    const img = frame(640, 360, [300, 100, 340, 150], [310, 115]);
    const { jpeg, face } = await faceSnapshot(
      img,
      { box: [300, 100, 340, 150], landmarks: [[310, 115]] },
      { size: 256, margin: 0.5 },
    );
    const snap = await decodeImage(jpeg);
    // 40x50 box + 50% a side = 80x100, scaled to fit 256: 205x256
    expect([snap.width, snap.height]).toEqual([205, 256]);
    const [x1, y1, x2, y2] = face.box;
    expect(x2 - x1).toBeCloseTo(102.4, 0);
    expect(y2 - y1).toBeCloseTo(128, 0);
    expect(x1).toBeCloseTo(51.2, 0); // the margin: a quarter of the snapshot on each side
    expect(red(at(snap, (x1 + x2) / 2, (y1 + y2) / 2))).toBe(true);
    expect(red(at(snap, x1 + 4, y1 + 4))).toBe(true);
    expect(red(at(snap, x1 - 6, y1 - 6))).toBe(false);
    const [lx, ly] = face.landmarks[0] as [number, number];
    expect(at(snap, lx, ly).every((c) => c > 200)).toBe(true);
  });

  it('clips at the frame edge and still points at the face', async () => {
    const img = frame(320, 240, [0, 10, 60, 80], [20, 30]);
    const { jpeg, face } = await faceSnapshot(
      img,
      { box: [0, 10, 60, 80], landmarks: [[20, 30]] },
      { size: 192, margin: 0.5 },
    );
    const snap = await decodeImage(jpeg);
    expect(face.box[0]).toBeCloseTo(0, 5);
    expect(red(at(snap, (face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2))).toBe(true);
  });

  it('an alerts table of an older Vigil gains the column, keeps its rows; bad stored positions read as absent', async () => {
    const path = join(dir, 'old.db');
    const old = new Database(path);
    old.exec(`CREATE TABLE alerts (id INTEGER PRIMARY KEY, time INTEGER NOT NULL, camera TEXT NOT NULL,
      label TEXT NOT NULL, person_id INTEGER, score REAL NOT NULL, track_id INTEGER NOT NULL, snapshot BLOB);
      ALTER TABLE alerts ADD COLUMN enrolled_person_id INTEGER;`);
    const jpeg = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#888' } })
      .jpeg()
      .toBuffer();
    old
      .prepare(
        'INSERT INTO alerts (time, camera, label, score, track_id, snapshot) VALUES (?, ?, ?, ?, ?, ?)',
      )
      .run(1_700_000_000_000, 'door', 'unknown', 0.3, 7, jpeg);
    old.close();

    const db = new Database(path);
    const store = new AlertStore(db);
    const cols = (db.prepare('PRAGMA table_info(alerts)').all() as Array<{ name: string }>).map(
      (c) => c.name,
    );
    expect(cols).toContain('snapshot_face');
    expect(store.list()).toHaveLength(1);
    expect(store.get(1)).toMatchObject({ camera: 'door', track_id: 7, has_snapshot: true });
    expect(store.snapshotWithFace(1)).toEqual({ jpeg, face: undefined });

    const face = {
      box: [10, 12, 60, 70] as [number, number, number, number],
      landmarks: [[20, 30]] as Array<[number, number]>,
    };
    const b = store.add(alert, jpeg, face);
    expect(store.snapshotWithFace(b.id)).toEqual({ jpeg, face });
    // a face without a snapshot is not kept (nothing to embed it from)
    expect(store.snapshotWithFace(store.add(alert, undefined, face).id)).toBeUndefined();

    for (const bad of ['not json', '{"box":[10,10,5,5],"landmarks":[]}', '{"box":[1,2,3],"landmarks":[]}']) {
      const c = store.add(alert, jpeg);
      db.prepare('UPDATE alerts SET snapshot_face = ? WHERE id = ?').run(bad, c.id);
      expect(store.snapshotWithFace(c.id), bad).toEqual({ jpeg, face: undefined });
    }
    // retention drops the position with the snapshot
    store.purge({ snapshotDays: 1, alertDays: 0 }, Date.now() + 400 * 86_400_000);
    expect(db.prepare('SELECT COUNT(*) AS n FROM alerts WHERE snapshot_face IS NOT NULL').get()).toEqual({
      n: 0,
    });
    db.close();
  });
});
