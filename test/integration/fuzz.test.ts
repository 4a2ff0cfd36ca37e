import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Vigil } from '../../src/app.js';
import { validateConfig } from '../../src/config/load.js';
import { facePhotosMissing, photo } from '../helpers/faces.js';
import { skipUnless } from '../helpers/requirements.js';

/** Every file under a folder, recursively. */
function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)],
  );
}

// Property-based fuzzing of the HTTP API and the WebSocket protocol against a real Vigil (recognize
// pipeline, real models, real SQLite): only clear 4xx answers, no crash, nothing written outside
// the data directory.
describe('fuzzing the API and the WebSocket protocol', () => {
  let vigil: Vigil;
  let base: string;
  const root = mkdtempSync(join(tmpdir(), 'vigil-fuzz-'));
  const dataDir = join(root, 'data');

  beforeAll(async () => {
    vigil = await Vigil.start(
      validateConfig({
        server: { host: '127.0.0.1', port: 0, maxUploadBytes: 256 * 1024 },
        log: { level: 'silent' },
        pipeline: 'recognize',
        dataDir,
        inference: { backend: 'wasm' },
        streams: [
          {
            id: 'cam',
            lavfi: 'testsrc2=size=320x180:rate=5',
            width: 320,
            height: 180,
            detectFps: 1,
            displayFps: 5,
          },
        ],
      }),
    );
    base = `http://127.0.0.1:${vigil.address.port}`;
  });
  afterAll(() => vigil?.stop());

  const alive = async () => expect((await fetch(`${base}/api/health`)).status).toBe(200);
  const clientError = async (r: Response) => {
    expect(r.status, `${r.status} ${await r.clone().text()}`).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    const body = (await r.json()) as { error?: unknown };
    expect(typeof body.error).toBe('string');
    expect((body.error as string).length).toBeGreaterThan(5);
  };

  const name = fc.oneof(
    fc.string({ maxLength: 40 }),
    fc.constantFrom(
      '../../etc/passwd',
      '..%2f..%2fx',
      '/tmp/evil',
      'a\u0000b',
      ' ',
      '',
      'x'.repeat(500),
      'unknown',
      'C:\\\\win',
    ),
  );

  it('enroll with junk bodies, wrong types and path-traversal names: 4xx, nothing written outside the data dir', async () => {
    const before = new Set(files(root));
    await fc.assert(
      fc.asyncProperty(
        name,
        fc.oneof(
          fc.uint8Array({ maxLength: 2048 }).map((b) => Buffer.from(b)),
          fc.constant(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16])), // a JPEG that stops after its header
          fc.constant(Buffer.from('\x89PNG\r\n\x1a\n')), // a PNG signature and nothing else
          fc.string().map((s) => Buffer.from(s)),
        ),
        fc.constantFrom(
          'image/jpeg',
          'image/png',
          'application/octet-stream',
          'text/plain',
          'application/json',
          '',
        ),
        async (n, body, type) => {
          const r = await fetch(`${base}/api/people?name=${encodeURIComponent(n)}`, {
            method: 'POST',
            headers: type ? { 'content-type': type } : {},
            body,
          });
          await clientError(r);
        },
      ),
      { numRuns: 60 },
    );
    await alive();
    const created = files(root).filter((f) => !before.has(f));
    expect(
      created.every((f) => f.startsWith(`${dataDir}/`)),
      created.join(', '),
    ).toBe(true);
    expect(vigil.context.faces?.gallery.list()).toEqual([]);
  });

  it('malformed JSON and wrong types for PATCH and verify: 4xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ maxLength: 200 }),
          fc.json().map(String),
          fc.anything().map((v) => {
            try {
              return JSON.stringify(v) ?? 'null';
            } catch {
              return '{';
            }
          }),
        ),
        fc.constantFrom(
          '/api/people/1',
          '/api/people/abc',
          '/api/people/-1',
          '/api/people/99999999999999999999',
        ),
        async (text, path) => {
          await clientError(
            await fetch(`${base}${path}`, {
              method: 'PATCH',
              headers: { 'content-type': 'application/json' },
              body: text,
            }),
          );
          await clientError(
            await fetch(`${base}/api/verify`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: text,
            }),
          );
        },
      ),
      { numRuns: 60 },
    );
    await alive();
  });

  it('random paths never escape the page folder and never 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.webPath(),
          fc.constantFrom(
            '/../package.json',
            '/%2e%2e/package.json',
            '/..%2f..%2fetc%2fpasswd',
            '/%E0%A4%A',
            '/api/../../x',
            '/api/people/1/../../../etc',
          ),
        ),
        fc.constantFrom('GET', 'POST', 'DELETE', 'PUT'),
        async (path, method) => {
          const r = await fetch(`${base}${path.startsWith('/') ? path : `/${path}`}`, { method });
          const text = await r.text();
          expect(r.status).toBeLessThan(500);
          expect(text).not.toContain('"name": "vigil"'); // package.json never leaks
          expect(text).not.toContain('root:x:0:0');
        },
      ),
      { numRuns: 80 },
    );
    await alive();
  });

  /** Characters a name must not hide: zero-width, joiners, bidi marks/overrides/isolates, separators, controls, blanks. */
  const hidden = fc.constantFrom(
    ...'\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u2028\u2029\u0007\u001b\u007f\u0085\u3164\u115f\ue000',
  );
  /** Visible name text (letters of several scripts, digits, an emoji, punctuation, a space). */
  const around = fc.string({
    unit: fc.constantFrom(...Array.from("aZéü李Ωж٣ßא😀-'. ")),
    minLength: 1,
    maxLength: 12,
  });
  const sneaky = fc
    .tuple(around, hidden, around)
    .map(([a, h, b]) => ({ name: `${a}${h}${b}`.trim() === `${a}${h}${b}` ? `${a}${h}${b}` : `x${h}x`, h }));
  const people = () => vigil.context.faces?.gallery.list() ?? [];

  it('Unicode names: an invisible, bidi or control character anywhere is refused with 400 naming it, on every route a name enters', async () => {
    const before = people();
    await fc.assert(
      fc.asyncProperty(sneaky, fc.constantFrom('enroll', 'rename', 'unknown'), async ({ name, h }, route) => {
        const q = encodeURIComponent(name);
        const r =
          route === 'enroll'
            ? await fetch(`${base}/api/people?name=${q}`, {
                method: 'POST',
                headers: { 'content-type': 'image/jpeg' },
                body: Buffer.from([0xff, 0xd8]),
              })
            : route === 'rename'
              ? await fetch(`${base}/api/people/1`, {
                  method: 'PATCH',
                  headers: { 'content-type': 'application/json' },
                  body: JSON.stringify({ name }),
                })
              : await fetch(`${base}/api/unknowns/1/name?name=${q}`, { method: 'POST' });
        expect(r.status, `${route} ${JSON.stringify(name)}`).toBe(400);
        const { error } = (await r.json()) as { error: string };
        const code = `U+${(h.codePointAt(0) as number).toString(16).toUpperCase().padStart(4, '0')}`;
        expect(error).toMatch(/^name contains /);
        expect(error, JSON.stringify(name)).toContain(code);
      }),
      { numRuns: 80 },
    );
    expect(people()).toEqual(before);
    await alive();
  });

  it('Unicode names: invalid UTF-8 in the query string or a JSON body is refused with 400, never stored as U+FFFD', async () => {
    const invalid = fc.uint8Array({ minLength: 1, maxLength: 12 }).filter((b) => {
      try {
        new TextDecoder('utf-8', { fatal: true }).decode(b);
        return false;
      } catch {
        return true;
      }
    });
    await fc.assert(
      fc.asyncProperty(
        invalid,
        fc.constantFrom('/api/people', '/api/unknowns/1/name'),
        async (bytes, path) => {
          const q = [...bytes].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
          const r = await fetch(`${base}${path}?name=Ana${q}`, {
            method: 'POST',
            headers: { 'content-type': 'image/jpeg' },
            body: Buffer.from([0xff, 0xd8]),
          });
          expect(r.status).toBe(400);
          expect(((await r.json()) as { error: string }).error).toBe(
            'query parameter "name" is not valid UTF-8: send it UTF-8 encoded',
          );
          const body = Buffer.concat([Buffer.from('{"name":"Ana'), Buffer.from(bytes), Buffer.from('"}')]);
          const p = await fetch(`${base}/api/people/1`, {
            method: 'PATCH',
            headers: { 'content-type': 'application/json' },
            body,
          });
          expect(p.status).toBe(400);
          expect(((await p.json()) as { error: string }).error).toBe(
            'the body is not valid UTF-8: send it UTF-8 encoded',
          );
        },
      ),
      { numRuns: 60 },
    );
    expect(people().some((p) => p.name.includes('\ufffd'))).toBe(false);
    await alive();
  });

  it.skipIf(skipUnless(facePhotosMissing(), 'Unicode duplicate names'))(
    'Unicode names: "José" in NFC, NFD, capitals or fullwidth is one person (409 naming them)',
    async () => {
      const enroll = (name: string) =>
        fetch(`${base}/api/people?name=${encodeURIComponent(name)}`, {
          method: 'POST',
          headers: { 'content-type': 'image/jpeg' },
          body: photo('obama', 'obama2.jpg'),
        });
      const first = await enroll('Jose\u0301'); // NFD
      expect(first.status, await first.clone().text()).toBe(201);
      const jose = (await first.json()) as { id: number; name: string };
      expect(jose.name).toBe('Jos\u00e9'); // stored in NFC
      const variant = fc.tuple(
        fc.constantFrom(
          'Jos\u00e9',
          'Jose\u0301',
          'JOS\u00c9',
          'JOSE\u0301',
          'jos\u00e9',
          '\uff2a\uff4f\uff53\u00e9',
        ),
        fc.constantFrom('', ' ', '  ', '\u00a0', '\u3000'),
        fc.constantFrom('', ' ', '\t', '\u2003'),
      );
      await fc.assert(
        fc.asyncProperty(variant, async ([v, pre, post]) => {
          const r = await enroll(`${pre}${v}${post}`);
          expect(r.status, JSON.stringify(v)).toBe(409);
          const { error } = (await r.json()) as { error: string };
          expect(error).toMatch(/^a person named ".+" already exists/);
          if (v.normalize('NFC') !== jose.name) expect(error).toContain(`as "${jose.name}" (id ${jose.id})`);
        }),
        { numRuns: 30 },
      );
      expect(people().map((p) => p.name)).toEqual([jose.name]);
      expect((await fetch(`${base}/api/people/${jose.id}`, { method: 'DELETE' })).status).toBe(204);
      await alive();
    },
  );

  it('the WebSocket answers junk with an error message and stays open; the server stays up', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${vigil.address.port}/ws`);
    const replies: Array<{ type: string; message?: string }> = [];
    ws.on('message', (d, bin) => {
      if (!bin) replies.push(JSON.parse(d.toString()));
    });
    await new Promise((r) => ws.once('open', r));
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ maxLength: 300 }),
          fc.json(),
          fc
            .record({
              type: fc.constantFrom('subscribe', 'unsubscribe', 'ping', 'displayed', 'nope'),
              streams: fc.anything(),
              t: fc.anything(),
              latencyMs: fc.anything(),
            })
            .map((o) => JSON.stringify(o)),
          fc.uint8Array({ maxLength: 512 }).map((b) => Buffer.from(b)),
        ),
        async (msg) => {
          ws.send(msg);
        },
      ),
      { numRuns: 150 },
    );
    await new Promise((r) => setTimeout(r, 500));
    expect(ws.readyState).toBe(WebSocket.OPEN);
    const errors = replies.filter((r) => r.type === 'error');
    expect(errors.length).toBeGreaterThan(10);
    expect(errors.every((e) => typeof e.message === 'string' && e.message.length > 5)).toBe(true);
    // a huge message (over the 64 KiB limit) closes that client only
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    ws.send('x'.repeat(200_000));
    expect(await closed).toBe(1009);
    await alive();
    ws.terminate();
  });
});
