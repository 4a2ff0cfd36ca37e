/**
 * A video with a script: who appears when. Each scene is a plain background (a CCTV-grey wall)
 * with zero or more faces on it, held for its seconds; a test that plays it through the RTSP
 * server in real time knows, from the server's start, which face is in view at every moment, so it
 * can tell exactly which alerts must come out, and schedule faults between appearances.
 * Faces are real photos: the demo people of @vladmandic/face-api's sample photos (they ship with
 * the package, so no shared data is needed), cut wider than their enrollment crop.
 */
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { DEMO_PEOPLE, type DemoPerson } from '../../src/faces/demo-gallery.js';
import { resolveFfmpeg } from '../../src/sources/ffmpeg.js';
import { packageRoot } from '../../src/util/packages.js';

export interface ScriptedFace {
  person: DemoPerson;
  /** Left edge and top of the face picture, as a fraction of the frame. */
  x: number;
  y: number;
  /** Height of the face picture in pixels (the face is about 45 % of it). */
  px: number;
}

export interface Scene {
  seconds: number;
  faces: ScriptedFace[];
}

/** A scripted appearance: when (seconds from the start of the video) who is in view. */
export interface Appearance {
  from: number;
  to: number;
  names: string[];
}

export const demoPerson = (name: string): DemoPerson => {
  const p = DEMO_PEOPLE.find((d) => d.name.startsWith(name));
  if (!p) throw new Error(`no demo person ${name}`);
  return p;
};

/** The person's face with its head and shoulders around it (wider than the enrollment crop). */
async function facePicture(f: ScriptedFace): Promise<Buffer> {
  const file = join(packageRoot('@vladmandic/face-api'), 'demo', f.person.photo);
  const img = sharp(file);
  const { width = 0, height = 0 } = await img.metadata();
  const [x1, y1, x2, y2] = f.person.box;
  const side = Math.max(x2 - x1, y2 - y1) * 2.2;
  const cx = (x1 + x2) / 2;
  const cy = (y1 + y2) / 2;
  const left = Math.max(0, Math.round(cx - side / 2));
  const top = Math.max(0, Math.round(cy - side / 2));
  const w = Math.min(width - left, Math.round(side));
  const h = Math.min(height - top, Math.round(side));
  return img
    .extract({ left, top, width: w, height: h })
    .resize({ height: f.px })
    .removeAlpha()
    .png()
    .toBuffer();
}

/** Writes the scenes as an H.264 file (width x height at fps) and returns what appears when. */
export async function writeScriptedVideo(
  scenes: Scene[],
  out: string,
  o: { width: number; height: number; fps: number },
): Promise<Appearance[]> {
  const pngs: string[] = [];
  const script: Appearance[] = [];
  let t = 0;
  for (const [i, scene] of scenes.entries()) {
    const layers: sharp.OverlayOptions[] = [];
    for (const f of scene.faces)
      layers.push({
        input: await facePicture(f),
        left: Math.round(f.x * o.width),
        top: Math.round(f.y * o.height),
      });
    const png = join(dirname(out), `scene-${i}.png`);
    await sharp({
      create: { width: o.width, height: o.height, channels: 3, background: { r: 92, g: 96, b: 100 } },
    })
      .composite(layers)
      .png()
      .toFile(png);
    pngs.push(png);
    if (scene.faces.length)
      script.push({ from: t, to: t + scene.seconds, names: scene.faces.map((f) => f.person.name) });
    t += scene.seconds;
  }
  // every scene an input of its own (a still looped for its seconds), joined by the concat filter:
  // frame-exact, where the concat demuxer of stills gave streams GStreamer could not play
  const inputs = pngs.flatMap((p, i) => [
    '-loop',
    '1',
    '-framerate',
    String(o.fps),
    '-t',
    String(scenes[i]?.seconds),
    '-i',
    p,
  ]);
  const joined = `${pngs.map((_, i) => `[${i}:v]`).join('')}concat=n=${pngs.length}:v=1:a=0,format=yuv420p[v]`;
  execFileSync(
    resolveFfmpeg().path,
    ['-y', '-loglevel', 'error', ...inputs, '-filter_complex', joined, '-map', '[v]']
      .concat([
        '-c:v',
        'libx264',
        '-preset',
        'veryfast',
        '-crf',
        '26',
        '-g',
        String(o.fps),
        '-r',
        String(o.fps),
      ])
      .concat(['-movflags', '+faststart', out]),
  );
  return script;
}
