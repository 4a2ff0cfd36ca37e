// Detect small, embed big: similarity of small faces cut from the 640x360 detection frame vs the
// full-resolution frame (bench/_recognition-fullres.ts). Prints the table, writes bench/results/fullres.json.
// npm run bench -- fullres [--per-identity 4]
import { parseArgs } from 'node:util';
import { runFullRes } from './_recognition-fullres.js';
import { machine, progress, writeResult } from './_util.js';

const { values } = parseArgs({ options: { 'per-identity': { type: 'string', default: '4' } } });
const r = await runFullRes({ progress, perIdentity: Number(values['per-identity']) });
console.log(`\n${r.title}\n\n${r.table}\n`);
console.log(`wrote ${writeResult('fullres', { machine: machine(), ...(r.json as object) })}`);
