// Detector recall and cost by tiling: share of labelled photos / crops where a face is found, faces
// found per frame of the shared video, ms per frame. npm run bench -- detector [--tiles 1,2,3]
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_DETECTOR } from '../src/faces/detect/blazeface.js';
import { decodeImage } from '../src/util/image.js';
import { type RgbImage, shared } from '../src/util/rgb.js';
import { detectTask } from '../src/faces/tasks/index.js';
import { InferenceHost } from '../src/inference/host.js';
import { decodeVideoFrames } from '../src/sources/video-frames.js';
import { machine, printTable, progress, writeResult } from './_util.js';

const { values } = parseArgs({
  options: { tiles: { type: 'string', default: '1,2,3' }, minScore: { type: 'string', default: '0.5' } },
});
const data = join(process.cwd(), '..', 'shared', 'data');
if (!existsSync(data)) {
  console.error(`detector bench needs ${data} (labelled faces and the video); it is absent`);
  process.exit(2);
}
const sets = ['facerec_photos', 'bbt_crops', 'dlib_johns_crops'];
const load = async (set: string) => {
  const dir = join(data, 'faces', set);
  const out: RgbImage[] = [];
  for (const id of readdirSync(dir))
    for (const f of readdirSync(join(dir, id))) out.push(shared(await decodeImage(join(dir, id, f))));
  return out;
};
const images = Object.fromEntries(await Promise.all(sets.map(async (s) => [s, await load(s)] as const)));
// 20 frames of the video (2 per second), 640x360 RGB
const frames = decodeVideoFrames(join(data, 'video', 'short_hamilton_clip.mp4'), {
  fps: 2,
  width: 640,
  height: 360,
}).map(shared); // on SharedArrayBuffers, as live frames are: no copy per request
progress(`${frames.length} video frames, ${sets.map((s) => `${s}: ${images[s]?.length}`).join(', ')}`);

const rows: Array<Record<string, string | number>> = [];
for (const tiles of (values.tiles as string).split(',').map(Number)) {
  const host = new InferenceHost({
    workers: 1,
    backend: 'wasm',
    tasks: [
      detectTask({
        model: 'blazeface',
        options: { ...DEFAULT_DETECTOR, minScore: Number(values.minScore) },
        tiles,
      }),
    ],
  });
  await host.start();
  const row: Record<string, string | number> = { tiles };
  for (const s of sets) {
    let found = 0;
    for (const img of images[s] ?? [])
      if (((await host.run('detect', [img])).result[0] ?? []).length) found++;
    row[`${s} recall`] = found / (images[s]?.length ?? 1);
  }
  let faces = 0;
  const t0 = performance.now();
  for (const f of frames) faces += ((await host.run('detect', [f])).result[0] ?? []).length;
  row['video faces/frame'] = faces / frames.length;
  row['video ms/frame'] = (performance.now() - t0) / frames.length;
  rows.push(row);
  progress(`tiles ${tiles}: ${JSON.stringify(row)}`);
  await host.close();
}
console.log(
  `\nBlazeFace (256 input, minScore ${values.minScore}) by tiling; recall = share of images where a face is found\n`,
);
printTable(rows);
console.log(
  `\nwritten: ${writeResult('detector', { bench: 'detector', date: new Date().toISOString(), machine: machine(), params: values, runs: rows })}`,
);
