import { mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { Gallery, GalleryError, type PhotoInput } from '../../src/faces/gallery/gallery.js';
import { decodeUtf8, NAME_MAX, nameKey, personName } from '../../src/faces/person-name.js';
import { UnknownStore } from '../../src/faces/unknowns/store.js';
import { strictQueryParam } from '../../src/server/query.js';

const NFC = 'Jos\u00e9';
const NFD = 'Jose\u0301';

const refusal = (raw: unknown): string => {
  try {
    personName(raw);
  } catch (e) {
    expect(e).toBeInstanceOf(GalleryError);
    expect((e as GalleryError).status).toBe(400);
    return (e as Error).message;
  }
  throw new Error(`${JSON.stringify(raw)} was accepted`);
};

describe('person names', () => {
  it('NFC and NFD are one name, stored in NFC; case and width variants compare equal', () => {
    expect(NFC).not.toBe(NFD);
    expect(personName(NFD)).toBe(NFC);
    expect(personName(`  ${NFD}\u00a0\u00a0Smith `)).toBe(`${NFC} Smith`);
    expect(nameKey(NFC)).toBe(nameKey(NFD));
    expect(nameKey('JOSÉ')).toBe(nameKey(NFD));
    expect(nameKey('\uff2a\uff4f\uff53\u00e9')).toBe(nameKey(NFC)); // fullwidth Ｊｏｓé
    expect(nameKey('Strauß')).toBe(nameKey('STRAUSS'));
    expect(nameKey('ΟΔΥΣΣΕΥΣ')).toBe(nameKey('οδυσσευς'));
    expect(nameKey('Ana María')).not.toBe(nameKey('Ana Maria'));
  });

  it('refuses invisible, bidi, control and separator characters, naming the code point', () => {
    const cases: Array<[string, RegExp]> = [
      ['Ad\u200ba', /invisible formatting character \(U\+200B at character 3\)/], // zero-width space
      ['Ad\u200da', /U\+200D/], // zero-width joiner
      ['Ad\u200ca', /U\+200C/],
      ['Ad\ufeffa', /U\+FEFF/],
      ['Ad\u00ada', /U\+00AD/], // soft hyphen
      ['\u202eadA', /bidirectional control character \(U\+202E/], // right-to-left override
      ['Ada\u2066x\u2069', /bidirectional control character \(U\+2066/], // isolate
      ['Ada\u200f', /bidirectional control character \(U\+200F/], // RLM
      ['Ada\u2028Lovelace', /U\+2028/], // line separator
      ['Ada\u2029Lovelace', /U\+2029/], // paragraph separator
      ['A\u0000da', /control characters \(U\+0000/],
      ['Ada\nLovelace', /control characters \(U\+000A/],
      ['Ada\u0085x', /control characters \(U\+0085/],
      ['\u3164', /invisible character \(U\+3164/], // Hangul filler: a "blank" name
      ['Ada\ue000', /private-use/],
      ['Ada\ufffd', /U\+FFFD.*UTF-8/],
      ['Ada\ud800', /lone UTF-16 surrogate/],
      ['unknown', /"unknown" is reserved/],
      ['\uff35\uff4e\uff4b\uff4e\uff4f\uff57\uff4e', /"unknown" is reserved/], // fullwidth
      ['', /must not be empty/],
      ['  \t ', /must not be empty/],
    ];
    for (const [raw, re] of cases) expect(refusal(raw), JSON.stringify(raw)).toMatch(re);
    expect(refusal(42)).toMatch(/name is required/);
  });

  it('length is counted in code points after NFC', () => {
    expect(personName('😀'.repeat(NAME_MAX))).toHaveLength(2 * NAME_MAX);
    expect(refusal('😀'.repeat(NAME_MAX + 1))).toMatch(/longer than 100/);
    expect(personName(NFD.repeat(25))).toBe(NFC.repeat(25)); // 125 code points in NFD, 100 in NFC
  });

  it('any accepted name is NFC, trimmed, free of Cc/Cf/Zl/Zp, and stable', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 30 }), (s) => {
        let n: string;
        try {
          n = personName(s);
        } catch (e) {
          expect(e).toBeInstanceOf(GalleryError);
          return;
        }
        expect(n).toBe(n.normalize('NFC'));
        expect(n).toBe(n.trim());
        expect(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\uFFFD]/u.test(n)).toBe(false);
        expect(personName(n)).toBe(n);
      }),
      { numRuns: 500 },
    );
  });

  it('raw bytes are decoded strictly: invalid UTF-8 is refused, not turned into U+FFFD', () => {
    expect(decodeUtf8(Buffer.from(NFC), 'x')).toBe(NFC);
    expect(() => decodeUtf8(Uint8Array.from([0x41, 0xff]), 'the body')).toThrow(
      /the body is not valid UTF-8/,
    );
    const req = (url: string) => ({ url }) as IncomingMessage;
    expect(strictQueryParam(req('/api/people?name=Jos%C3%A9'), 'name')).toBe(NFC);
    expect(strictQueryParam(req('/api/people?x=1&name=Ana+Mar%C3%ADa&name=b'), 'name')).toBe('Ana María');
    expect(strictQueryParam(req('/api/people?x=1'), 'name')).toBeNull();
    expect(strictQueryParam(req('/api/people?name='), 'name')).toBe('');
    expect(strictQueryParam(req('/api/people?name=100%'), 'name')).toBe('100%');
    for (const bad of ['Jos%E9', 'Jos%C3', '%FF%FE', '%ED%A0%80', '%C0%AF'])
      expect(() => strictQueryParam(req(`/api/people?name=${bad}`), 'name'), bad).toThrow(
        /query parameter "name" is not valid UTF-8/,
      );
    // URLSearchParams, which the routes used before, stores the replacement character silently.
    expect(new URL('http://h/?name=Jos%E9').searchParams.get('name')).toBe('Jos\ufffd');
  });
});

describe('the gallery compares names by their key', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-names-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const space = { model: 'test', version: 'v1', dim: 4 };
  const photo = (): PhotoInput => ({
    image: Buffer.from('i'),
    thumbnail: Buffer.from('t'),
    box: [0, 0, 1, 1],
    landmarks: [],
    embedding: Float32Array.from([1, 0, 0, 0]),
  });
  const conflict = (fn: () => unknown): string => {
    try {
      fn();
    } catch (e) {
      expect((e as GalleryError).status).toBe(409);
      return (e as Error).message;
    }
    throw new Error('expected a 409');
  };

  it('"José" in NFC and NFD, in capitals or fullwidth, is one person; the 409 names them', () => {
    const g = new Gallery(join(dir, 'a.db'), space);
    const jose = g.addPerson(NFD, [photo()]);
    expect(jose.name).toBe(NFC);
    expect(conflict(() => g.addPerson(NFC, [photo()]))).toBe(`a person named "${NFC}" already exists`);
    expect(conflict(() => g.addPerson('JOSÉ', [photo()]))).toBe(
      `a person named "JOSÉ" already exists as "${NFC}" (id ${jose.id})`,
    );
    expect(g.findByName('\uff2a\uff2f\uff33\u00c9')?.id).toBe(jose.id);
    const ana = g.addPerson('Ana', [photo()]);
    expect(conflict(() => g.rename(ana.id, ` jose\u0301 `))).toMatch(/already exists as "José" \(id \d+\)/);
    expect(g.rename(jose.id, 'JOSÉ').name).toBe('JOSÉ'); // one's own name in other capitals
    expect(g.list().map((p) => p.name)).toEqual(['Ana', 'JOSÉ']);
    const s = new UnknownStore(g.db, g.space, { threshold: 0.5 });
    const c = s.addSighting({
      camera: 'cam',
      trackId: 1,
      time: Date.now(),
      embedding: Float32Array.from([0, 1, 0, 0]),
      snapshot: Buffer.from('jpeg'),
    });
    expect(() => s.name(c.clusterId, 'Ana\u200b', g)).toThrow(/U\+200B/);
    expect(conflict(() => s.name(c.clusterId, 'ANA', g))).toMatch(
      /a person named "ANA" already exists as "Ana" \(id \d+\): add append=true/,
    );
    expect(s.name(c.clusterId, 'ana', g, { append: true }).person.id).toBe(ana.id);
    g.close();
  });

  it('an older database gets name keys; names that only now compare equal are both kept', () => {
    const file = join(dir, 'old.db');
    const db = new Database(file);
    db.exec(
      'CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE COLLATE NOCASE, created_at INTEGER NOT NULL)',
    );
    db.prepare('INSERT INTO people (name, created_at) VALUES (?, 1), (?, 2)').run(NFC, NFD);
    db.close();
    const g = new Gallery(file, space);
    expect(
      g
        .list()
        .map((p) => p.name)
        .sort(),
    ).toEqual([NFC, NFD].sort());
    expect(g.findByName('josé')?.id).toBe(1);
    expect(conflict(() => g.addPerson('JOSE\u0301', [photo()]))).toMatch(/already exists as/);
    g.close();
  });
});
