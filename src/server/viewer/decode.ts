// JPEG decoding off the main thread, in a worker (decoder.js): the page's main thread only draws the
// ImageBitmap it gets back. Measured with bench/viewer.ts: decoding on the main thread (a Blob per frame
// for createImageBitmap, or WebCodecs' ImageDecoder, whose VideoFrame is converted when drawn) kept
// it busy most of the time with 16 tiles. Without workers, it decodes in the page.
import type { DecodeReply, DecodeRequest } from './decoder-worker.js';

let worker: Worker | undefined;
let nextId = 1;
const waiting = new Map<number, { resolve(b: ImageBitmap): void; reject(e: Error): void }>();

function getWorker(): Worker | undefined {
  if (worker || typeof Worker !== 'function') return worker;
  try {
    worker = new Worker('decoder.js');
  } catch {
    return undefined;
  }
  worker.onmessage = (ev: MessageEvent<DecodeReply>) => {
    const w = waiting.get(ev.data.id);
    waiting.delete(ev.data.id);
    if (!w) return;
    if ('bitmap' in ev.data) w.resolve(ev.data.bitmap);
    else w.reject(new Error(ev.data.error));
  };
  worker.onerror = () => {
    // the worker could not load: decode in the page from now on
    for (const w of waiting.values()) w.reject(new Error('decoder worker failed'));
    waiting.clear();
    worker = undefined;
    disabled = true;
  };
  return worker;
}
let disabled = false;

/** Decodes a JPEG to an ImageBitmap (the caller closes it). `bytes` is handed over, not copied. */
export function decodeJpeg(bytes: Uint8Array<ArrayBuffer>): Promise<ImageBitmap> {
  const w = disabled ? undefined : getWorker();
  if (!w) return createImageBitmap(new Blob([bytes], { type: 'image/jpeg' }));
  const id = nextId++;
  return new Promise((resolve, reject) => {
    waiting.set(id, { resolve, reject });
    const msg: DecodeRequest = { id, bytes };
    // the socket's buffer holds this one frame only: transfer it
    w.postMessage(msg, [bytes.buffer]);
  });
}
