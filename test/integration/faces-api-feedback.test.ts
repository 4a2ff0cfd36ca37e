/**
 * Operator feedback over the HTTP API on a real Vigil (#14 item 4): POST /api/alerts/:id/feedback
 * and /ignore, GET /api/feedback, DELETE /api/feedback/:id; the decision of POST /api/identify
 * changes and is restored by the undo; refusals (404 for a missing alert, person or entry, 400
 * naming the field) change nothing stored; every change is in the audit log.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { FaceAlert } from '../../src/faces/alerts.js';
import { enrollThree, errorOf, useFacesApi } from '../helpers/faces-api.js';
import { facePhotosMissing, galleryState, photo } from '../helpers/faces.js';
import { skipUnless } from '../helpers/requirements.js';

const missing = facePhotosMissing();

describe.skipIf(skipUnless(missing, 'feedback API'))('faces HTTP API: operator feedback on alerts', () => {
  const api = useFacesApi();
  let ids: Record<string, number> = {};
  let named: FaceAlert;
  let unknown: FaceAlert;
  let orphan: FaceAlert;
  beforeAll(async () => {
    ids = await enrollThree(api);
    const store = api.vigil.context.faces?.alerts;
    if (!store) throw new Error('no alert store');
    const at = (o: Partial<FaceAlert>) =>
      store.add(
        {
          camera: 'cam',
          sub_label: 'Biden',
          person_id: ids.Biden ?? null,
          score: 0.6,
          track_id: 1,
          start_time: Date.now() / 1000,
          ...o,
        },
        photo('obama', 'obama2.jpg'),
      );
    // an alert that took a photo of Obama for Biden (stored without a face position: it is found)
    named = at({});
    unknown = at({ sub_label: 'unknown', person_id: null, track_id: 2 });
    orphan = at({ sub_label: 'Gone', person_id: 99_999, track_id: 3 });
  });

  const identifyObama = async () => {
    const r = await api.call('POST', '/identify', photo('obama', 'obama2.jpg'));
    return (r.json as { faces: Array<{ identity: { personId: number | null; ignored?: boolean } }> }).faces[0]
      ?.identity;
  };
  const db = () => {
    const d = api.vigil.context.faces?.gallery.db;
    if (!d) throw new Error('no gallery');
    return d;
  };
  const feedbackRows = () => db().prepare('SELECT * FROM feedback ORDER BY id').all();

  it('refusals name the problem and change nothing stored', async () => {
    const before = { gallery: galleryState(db()), feedback: feedbackRows() };
    const noAlert = await api.json('POST', '/alerts/424242/feedback', { verdict: 'wrong' });
    expect(noAlert.status).toBe(404);
    expect(errorOf(noAlert)).toMatch(/no alert with id 424242/);
    const noPerson = await api.json('POST', `/alerts/${named.id}/feedback`, {
      verdict: 'wrong',
      personId: 77_777,
    });
    expect(noPerson.status).toBe(404);
    expect(errorOf(noPerson)).toMatch(/no person with id 77777/);
    const gone = await api.json('POST', `/alerts/${orphan.id}/feedback`, { verdict: 'correct' });
    expect(gone.status).toBe(404);
    expect(errorOf(gone)).toMatch(/named person 99999 \(Gone\), who is no longer enrolled/);
    const bad = await api.json('POST', `/alerts/${named.id}/feedback`, { verdict: 'maybe' });
    expect(bad.status).toBe(400);
    expect(errorOf(bad)).toMatch(/^invalid body: verdict: /);
    const extra = await api.json('POST', `/alerts/${named.id}/ignore`, { scope: 'room' });
    expect(extra.status).toBe(400);
    expect(errorOf(extra)).toMatch(/scope/);
    const nobody = await api.json('POST', `/alerts/${unknown.id}/feedback`, { verdict: 'wrong' });
    expect(nobody.status).toBe(409);
    expect(errorOf(nobody)).toMatch(/named nobody/);
    const noEntry = await api.call('DELETE', '/feedback/31337');
    expect(noEntry.status).toBe(404);
    expect(errorOf(noEntry)).toMatch(/no feedback entry with id 31337/);
    expect((await api.call('GET', '/feedback?alert=x')).status).toBe(400);
    expect({ gallery: galleryState(db()), feedback: feedbackRows() }).toEqual(before);
  });

  it('"wrong" for Obama changes /api/identify; the undo restores it; both audited', async () => {
    expect((await identifyObama())?.personId).toBe(ids.Obama);
    const w = await api.json('POST', `/alerts/${named.id}/feedback`, {
      verdict: 'wrong',
      personId: ids.Obama,
    });
    expect(w.status, errorOf(w)).toBe(201);
    const entry = w.json as { id: number; verdict: string; personId: number };
    expect(entry).toMatchObject({ verdict: 'wrong', personId: ids.Obama, alertId: named.id });
    expect((await identifyObama())?.personId).toBeNull();
    const list = (await api.call('GET', `/feedback?alert=${named.id}`)).json as Array<{ id: number }>;
    expect(list.map((e) => e.id)).toEqual([entry.id]);
    const again = await api.json('POST', `/alerts/${named.id}/feedback`, {
      verdict: 'wrong',
      personId: ids.Obama,
    });
    expect(again.status).toBe(409);
    const undo = await api.call('DELETE', `/feedback/${entry.id}`);
    expect(undo.status, errorOf(undo)).toBe(200);
    expect((await identifyObama())?.personId).toBe(ids.Obama);
    const audit = (await api.call('GET', '/audit?limit=2')).json as Array<{
      action: string;
      personId: number;
      detail: Record<string, unknown>;
    }>;
    expect(audit.map((a) => a.action)).toEqual(['undo-feedback', 'feedback']);
    expect(audit[1]).toMatchObject({
      personId: ids.Obama,
      detail: { verdict: 'wrong', feedbackId: entry.id },
    });
  });

  it('"ignore" everywhere makes the face no one on /api/identify; undo restores', async () => {
    const r = await api.json('POST', `/alerts/${named.id}/ignore`, { scope: 'everywhere' });
    expect(r.status, errorOf(r)).toBe(201);
    expect(r.json).toMatchObject({ verdict: 'ignore', camera: null });
    expect(await identifyObama()).toMatchObject({ personId: null, ignored: true });
    expect((await api.call('DELETE', `/feedback/${(r.json as { id: number }).id}`)).status).toBe(200);
    expect((await identifyObama())?.personId).toBe(ids.Obama);
    expect(feedbackRows()).toEqual([]);
  });
});
