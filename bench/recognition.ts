// Recognition that holds on real CCTV (issue #14), one report: the open-set calibration (stranger
// FAR per look, per vote and per track at the shipped operating point, per condition and per
// left-out set, TAR), small-face detection (recall, false boxes, ms per frame per detector option
// next to face-api's SSD on the same frames) and detect-small-embed-big (similarity of small faces
// from the detection frame vs the full-resolution frame). Prints every table, writes
// bench/results/recognition.json. npm run bench -- recognition [--only calibration,small-faces,fullres]
import { parseArgs } from 'node:util';
import { runCalibration } from './_recognition-calibration.js';
import { runFullRes } from './_recognition-fullres.js';
import { runSmallFaces } from './_recognition-small-faces.js';
import { machine, progress, writeResult } from './_util.js';

type Section = (opts: { progress: (msg: string) => void }) => Promise<{
  title: string;
  table: string;
  json: unknown;
}>;
const SECTIONS: Record<string, Section> = {
  calibration: runCalibration,
  'small-faces': runSmallFaces,
  fullres: (o) => runFullRes({ ...o, perIdentity: 4 }),
};

const { values } = parseArgs({ options: { only: { type: 'string' } } });
const names = values.only ? values.only.split(',') : Object.keys(SECTIONS);
const unknown = names.filter((n) => !(n in SECTIONS));
if (unknown.length) {
  console.error(`--only: no section ${unknown.join(', ')} (sections: ${Object.keys(SECTIONS).join(', ')})`);
  process.exit(2);
}
const out: Record<string, unknown> = {};
for (const [i, name] of names.entries()) {
  progress(`section ${i + 1}/${names.length}: ${name}`);
  const r = await (SECTIONS[name] as Section)({ progress });
  console.log(`\n## ${r.title}\n\n${r.table}\n`);
  out[name] = { title: r.title, ...(r.json as object) };
}
const file = writeResult('recognition', {
  bench: 'recognition',
  date: new Date().toISOString(),
  machine: machine(),
  ...out,
});
console.log(`written: ${file}`);
