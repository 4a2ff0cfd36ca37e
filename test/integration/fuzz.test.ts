import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Vigil } from '../../src/app.js';
import { validateConfig } from '../../src/config/load.js';

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
