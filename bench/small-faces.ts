// Small-face recall, false boxes and cost by detector option, next to face-api's SSD-MobileNet v1
// (issue #14 item 1). npm run bench -- small-faces; the same section runs in `npm run bench -- recognition`.
import { machine, progress, writeResult } from './_util.js';
import { runSmallFaces } from './_recognition-small-faces.js';

const section = await runSmallFaces({ progress });
console.log(`\n${section.title}\n\n${section.table}`);
const file = writeResult('small-faces', {
  bench: 'small-faces',
  date: new Date().toISOString(),
  machine: machine(),
  ...(section.json as object),
});
console.log(`\nwritten: ${file}`);
