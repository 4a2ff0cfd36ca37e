// Open-set calibration (issue #14 item 3): per condition, the stranger FAR per look and per track
// at the shipped operating point and the TAR; per left-out set, the FAR when calibrated on the
// others; raw against cohort-normalised scores. Writes bench/results/calibration.json.
// npm run bench -- calibration [--write]   (--write: store the recommended point in models/thresholds.yaml)
import { parseArgs } from 'node:util';
import { writeThreshold } from '../src/faces/thresholds.js';
import type { CalibrationJson } from './_recognition-calibration.js';
import { runCalibration } from './_recognition-calibration.js';
import { machine, progress, writeResult } from './_util.js';

const { values } = parseArgs({ options: { write: { type: 'boolean', default: false } } });
const r = await runCalibration({ progress });
console.log(`\n${r.title}\n\n${r.table}\n`);
const json = r.json as CalibrationJson;
const file = writeResult('calibration', {
  bench: 'calibration',
  date: new Date().toISOString(),
  machine: machine(),
  ...json,
});
console.log(`written: ${file}`);
const { recommended: p, recommendedRates: rates } = json;
console.log(
  `recommended: threshold ${p.threshold.toFixed(4)}, nameLooks ${p.rule.nameLooks}, minMargin ${p.rule.minMargin}, strongMargin ${p.rule.strongMargin}`,
);
if (values.write) {
  const t = {
    similarity: Number(p.threshold.toFixed(4)),
    far: Number(rates.worstFarPerLook.toFixed(4)),
    tar: Number(rates.meanTarPerLook.toFixed(4)),
    farPerTrack: Number(rates.worstFarPerTrack.toFixed(4)),
    rule: { nameLooks: p.rule.nameLooks, minMargin: p.rule.minMargin, strongMargin: p.rule.strongMargin },
    measuredOn: [...json.measuredOn],
    date: new Date().toISOString().slice(0, 10),
  };
  const out = writeThreshold(
    json.space.model,
    json.space.space,
    t,
    undefined,
    [
      `${json.space.space}: \`npm run bench -- calibration --write\` (bench/results/calibration.json). Per-look`,
      `threshold: the highest over ${json.conditions.length} conditions (${json.conditions.join(', ')}) of the lowest`,
      `one keeping strangers <= 1% (all, and same-set alone); the track rule picked with it. far: the worst`,
      `condition per look, farPerTrack: per track (${json.track.looks} looks), tar: mean per look. Strangers: each`,
      `person of a set left out in turn, every face of the other sets and of face-api's demo photos.`,
      `Leave-one-set-out FAR on the left-out set <= ${(json.losoWorstFarPerLook * 100).toFixed(1)}% per look, ${(json.losoWorstFarPerTrack * 100).toFixed(1)}% per track.`,
    ].join('\n'),
  );
  console.log(`written: ${out}`);
}
