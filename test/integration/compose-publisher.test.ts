/**
 * The `publisher` service of docker-compose.yml runs ffmpeg to push the demo camera into mediamtx.
 * Docker is not needed to know that command works: run it with this machine's ffmpeg (Debian's
 * 5.1, as in the image) against an ffmpeg RTSP listener on 127.0.0.1 standing in for mediamtx, and
 * check that H.264 frames arrive at the expected size and rate.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { packageRoot } from '../../src/util/packages.js';
import { freePort } from '../helpers/rtsp-server.js';
import { componentMissing, skipUnless } from '../helpers/requirements.js';

const ffmpegMissing = skipUnless(componentMissing('ffmpeg'), 'compose publisher test');

const children: ChildProcess[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGKILL');
      await once(c, 'exit');
    }
  }
});

describe.skipIf(ffmpegMissing)('docker-compose.yml publisher', () => {
  it('publishes H.264 over RTSP (1280x720, ~15 fps) with Debian ffmpeg', async () => {
    const compose = parse(readFileSync('docker-compose.yml', 'utf8')) as {
      services: { publisher: { command: string[] } };
    };
    const cmd = compose.services.publisher.command;
    expect(cmd[0]).toBe('ffmpeg');
    const port = await freePort();
    const url = `rtsp://127.0.0.1:${port}/demo`;
    // The image's /app/node_modules is this checkout's node_modules; mediamtx is the listener.
    const photos = `${packageRoot('@vladmandic/face-api')}/demo/sample%d.jpg`;
    const args = cmd
      .slice(1)
      .map((a) => a.replace('/app/node_modules/@vladmandic/face-api/demo/sample%d.jpg', photos))
      .map((a) => (a === 'rtsp://mediamtx:8554/demo' ? url : a));
    expect(args).toContain(url);
    expect(args).toContain(photos);

    const SECONDS = 4;
    const listener = spawn(
      'ffmpeg',
      [
        '-hide_banner',
        '-rtsp_flags',
        'listen',
        '-timeout',
        '20',
        '-i',
        url,
        '-t',
        String(SECONDS),
        '-f',
        'null',
        '-',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    children.push(listener);
    let log = '';
    listener.stderr?.on('data', (d: Buffer) => {
      log += d.toString();
    });
    await new Promise((r) => setTimeout(r, 500)); // listening
    const publisher = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(publisher);
    let pubLog = '';
    publisher.stderr?.on('data', (d: Buffer) => {
      pubLog = (pubLog + d.toString()).slice(-4000);
    });
    const t0 = Date.now();
    const [code] = (await Promise.race([
      once(listener, 'exit'),
      new Promise((_, rej) =>
        setTimeout(() => rej(new Error(`listener did not finish:\n${log}\n${pubLog}`)), 25_000),
      ),
    ])) as [number | null];
    const wall = (Date.now() - t0) / 1000;
    expect(code, `${log}\n--- publisher ---\n${pubLog}`).toBe(0);
    expect(log).toMatch(/Video: h264 .*1280x720/);
    const frames = Number([...log.matchAll(/frame=\s*(\d+)/g)].at(-1)?.[1] ?? 0);
    // SECONDS of 15 fps video, received in about real time (the realtime filter paces it)
    expect(frames).toBeGreaterThanOrEqual(SECONDS * 15 - 2);
    expect(wall).toBeGreaterThan(SECONDS * 0.7);
  }, 40_000);
});
