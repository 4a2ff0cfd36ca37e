import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import { openFaces } from '../../src/faces/open.js';
import { skipUnless } from '../helpers/requirements.js';

const photos = join(process.cwd(), '..', 'shared', 'data', 'faces', 'facerec_photos');
const why = existsSync(photos) ? null : `${photos} not found`;

// recognize.head: the worker applies a trained head after the embedding; the gallery lives in the
// head's own space (never mixed with raw vectors) and matching works in it.
describe.skipIf(skipUnless(why, 'head selection test'))('a trained head selected in the pipeline', () => {
  // faceres-all: triplet-trained, box crop 1.3; faceres-nap: the NAP projection in the default space (1.6)
  it.each([
    ['faceres-all', '1.3'],
    ['faceres-nap', '1.6'],
  ])(
    '%s (context %s): embeds through the head, in its own gallery space, and still identifies',
    async (head, context) => {
      const dir = mkdtempSync(join(tmpdir(), 'vigil-head-'));
      const pipeline = join(dir, 'recognize-head.yaml');
      writeFileSync(
        pipeline,
        `name: recognize-head\nstages:\n  - detect: {}\n  - recognize: { model: faceres, align: false, context: ${context}, head: ${head} }\n  - encode: {}\n`,
      );
      const f = await openFaces(
        validateConfig({
          pipeline,
          dataDir: join(dir, 'data'),
          inference: { backend: 'wasm' },
          streams: [{ id: 'a', lavfi: 'testsrc2' }],
        }),
      );
      try {
        expect(f.gallery.space.version).toMatch(
          new RegExp(`^box-${context.replace('.', '\\.')}\\+${head}@[0-9a-f]{8}$`),
        );
        const person = readdirSync(photos).sort()[0] as string;
        const files = readdirSync(join(photos, person)).sort();
        await f.service.enroll(person, [readFileSync(join(photos, person, files[0] as string))]);
        const m = f.gallery.matrix();
        expect(m.dim).toBe(f.gallery.space.dim);
        const norm = Math.hypot(...m.data.subarray(0, m.dim));
        expect(norm).toBeCloseTo(1, 4);
        const [face] = await f.service.identify(readFileSync(join(photos, person, files[1] as string)));
        expect(face?.identity.label).toBe(person);
      } finally {
        await f.close();
      }
    },
  );
});
