import { join } from 'node:path';
import sharp from 'sharp';
import { styleTf } from '../../src/style/backend.js';
import { initParams, paramCount, STYLE_ARCHS } from '../../src/style/net.js';
import { saveStyle, type StyleManifest } from '../../src/style/store.js';

/**
 * Writes root/NAME: a `tiny` style with seeded random weights (a real network, untrained: its
 * output clearly differs from its input), with a plain thumbnail. Returns the folder.
 */
export async function writeRandomStyle(
  root: string,
  name: string,
  painting = 'random weights',
): Promise<string> {
  const { tf } = await styleTf('wasm');
  const arch = STYLE_ARCHS.tiny as (typeof STYLE_ARCHS)['tiny'];
  const p = initParams(tf, arch, 11);
  const params = Object.fromEntries(Object.entries(p).map(([k, v]) => [k, v.dataSync() as Float32Array]));
  tf.dispose(Object.values(p));
  const dir = join(root, name);
  const manifest = { name, archName: 'tiny', arch, params: paramCount(arch), painting } as StyleManifest;
  const thumb = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#369' } })
    .jpeg()
    .toBuffer();
  saveStyle(dir, manifest, params, { 'style.jpg': thumb });
  return dir;
}

/** A 96x96 "painting" of diagonal colour bands (a texture a net can learn). */
export async function bandsPainting(side = 96): Promise<Buffer> {
  const px = Buffer.alloc(side * side * 3);
  for (let y = 0; y < side; y++)
    for (let x = 0; x < side; x++) {
      const i = (y * side + x) * 3;
      const band = Math.floor((x + y) / 8) % 3;
      px[i] = band === 0 ? 220 : 30;
      px[i + 1] = band === 1 ? 200 : 40;
      px[i + 2] = band === 2 ? 230 : 60;
    }
  return sharp(px, { raw: { width: side, height: side, channels: 3 } })
    .jpeg()
    .toBuffer();
}
