// Regenerates the tables of docs/accuracy.md from bench/results/accuracy-*.json (written by
// `vigil eval faces --json`), between <!-- accuracy --> and <!-- /accuracy -->, and the small-face
// levers from bench/results/recognition-levers.json (`npm run bench -- recognition-levers`), between
// <!-- levers --> and <!-- /levers -->.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';

const doc = 'docs/accuracy.md';
const files = readdirSync('bench/results')
  .filter((f) => /^accuracy-.*\.json$/.test(f))
  .sort();
const f3 = (v) => (Number.isFinite(v) ? v.toFixed(3) : 'n/a');
let out = '';
for (const f of files) {
  const r = JSON.parse(readFileSync(`bench/results/${f}`, 'utf8'));
  const ctx = r.context ?? Number(/context_(\d+(?:\.\d+)?)/.exec(f)?.[1]);
  out += `\n### ${r.model}, ${r.align ? 'aligned (keypoints, similarity transform)' : 'box crop'}, context ${ctx}\n\n`;
  out +=
    '| set | identities | images | no face found | rank-1 | TAR@FAR 1% | TAR@FAR 0.1% | ROC AUC | ms/image detect | ms/face embed |\n|---|---|---|---|---|---|---|---|---|---|\n';
  for (const s of r.reports) {
    out += `| ${s.dir.split('/').filter(Boolean).at(-1)} | ${s.identities} | ${s.images} | ${s.noFace} | ${f3(s.rank1)} | ${f3(s.tarAtFar1)} | ${f3(s.tarAtFar01)} | ${s.rocAuc.toFixed(4)} | ${s.msDetectPerImage.toFixed(0)} | ${s.msEmbedPerFace.toFixed(0)} |\n`;
  }
  const o = r.openSet;
  out += `\nOpen set over the three sets (${o.strangerQueries} stranger queries, each identity left out of the gallery in turn): threshold **${o.threshold.toFixed(4)}** lets ${f3(o.strangerFar)} of strangers through and accepts ${f3(o.knownTar)} of enrolled people's queries. Measured ${r.date.slice(0, 10)}.\n`;
}
let text = readFileSync(doc, 'utf8').replace(
  /<!-- accuracy -->[\s\S]*<!-- \/accuracy -->/,
  `<!-- accuracy -->\n${out}\n<!-- /accuracy -->`,
);
const leversFile = 'bench/results/recognition-levers.json';
if (existsSync(leversFile)) {
  const l = JSON.parse(readFileSync(leversFile, 'utf8'));
  let t =
    '| context | variant | rank-1 bbt / dlib / photos | open-set threshold | stranger FAR | known accepted | Obama min / median / max | Obama frames accepted | other clip faces, best |\n|---|---|---|---|---|---|---|---|---|\n';
  for (const r of l.results.filter((x) => x.variant)) {
    const o = r.obama;
    t += `| ${r.context} | ${r.variant} | ${r.perSet.map((s) => f3(s.rank1)).join(' / ')} | ${r.openSet.threshold.toFixed(4)} | ${f3(r.openSet.strangerFar)} | ${f3(r.openSet.knownTar)} | ${f3(o.min)} / ${f3(o.median)} / ${f3(o.max)} | ${o.accepted}/${o.frames} | ${f3(r.otherFacesMax)} |\n`;
  }
  const ms = l.results.filter((x) => x.msPerEmbedding).map((x) => x.msPerEmbedding);
  t += `\n${l.model}; clip: ${l.clip.frames} frames of ${l.clip.file} from ${l.clip.from} s at ${l.clip.fps} fps (640x360); open set over the three labelled sets (${l.results.find((x) => x.variant)?.openSet.strangerQueries} stranger queries). One embedding took ${Math.min(...ms).toFixed(0)}-${Math.max(...ms).toFixed(0)} ms (single-threaded wasm, shared machine); flip TTA costs two per face. Measured ${l.date.slice(0, 10)}.\n`;
  text = text.replace(/<!-- levers -->[\s\S]*<!-- \/levers -->/, `<!-- levers -->\n\n${t}\n<!-- /levers -->`);
}
if (process.argv.includes('--check')) {
  if (text !== readFileSync(doc, 'utf8')) {
    console.error(`${doc} is out of date: run node scripts/accuracy-report.mjs`);
    process.exit(1);
  }
} else writeFileSync(doc, text);
