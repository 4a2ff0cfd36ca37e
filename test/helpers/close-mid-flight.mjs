// Child-process half of test/integration/worker-close.test.ts: starts a style host and an inference
// host on ONNX Runtime, closes each while work is in flight, several rounds, and prints one JSON line.
// Run in its own process because the failure it guards against aborts the process.
import { DEFAULT_DETECTOR } from '../../dist/faces/detect/blazeface.js';
import { detectTask } from '../../dist/faces/tasks/index.js';
import { InferenceHost } from '../../dist/inference/host.js';
import { StyleHost } from '../../dist/style/host.js';

const [styleDir, cacheDir, roundsArg] = process.argv.slice(2);
const rounds = Number(roundsArg ?? 4);
const onnx = { intraOpThreads: 1, executionProviders: ['cpu'], cacheDir };
const frame = (w, h) => ({ width: w, height: h, pixels: new Uint8Array(w * h * 3).fill(120) });
const out = { style: [], inference: [] };

for (let r = 0; r < rounds; r++) {
  const host = new StyleHost({ workers: 2, backend: 'wasm', engines: { engine: 'onnx', onnx } });
  await host.start();
  const f = frame(480, 270);
  await host.stylize(styleDir, f); // loads and converts: ONNX from here on
  const runs = Array.from({ length: 6 }, () =>
    host.stylize(styleDir, f).then(
      () => 'done',
      (e) => e.message,
    ),
  );
  await new Promise((res) => setTimeout(res, 5 + 7 * r));
  await host.close();
  out.style.push({
    engines: [...host.engines.values()].map((e) => e.engine),
    outcomes: await Promise.all(runs),
  });
}
for (let r = 0; r < rounds; r++) {
  const host = new InferenceHost({
    workers: 1,
    backend: 'wasm',
    tasks: [detectTask({ model: 'blazeface', options: DEFAULT_DETECTOR })],
    engines: { engine: 'onnx', models: {}, onnx },
  });
  await host.start();
  const runs = Array.from({ length: 4 }, () =>
    host.run('detect', [frame(640, 360)]).then(
      () => 'done',
      (e) => e.message,
    ),
  );
  await new Promise((res) => setTimeout(res, 3 + 5 * r));
  await host.close();
  out.inference.push({ engines: host.models.map((m) => m.engine), outcomes: await Promise.all(runs) });
}
console.log(JSON.stringify(out));
