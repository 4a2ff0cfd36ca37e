// The JPEG decoder worker (bundled to decoder.js): bytes in, ImageBitmap out (transferred, no copy),
// so the page's main thread only draws. One request per tile at a time (the page keeps latest-wins).

export interface DecodeRequest {
  id: number;
  bytes: Uint8Array<ArrayBuffer>;
}
export type DecodeReply = { id: number; bitmap: ImageBitmap } | { id: number; error: string };

const scope = self as unknown as {
  onmessage: ((ev: MessageEvent<DecodeRequest>) => void) | null;
  postMessage(m: DecodeReply, transfer?: Transferable[]): void;
};
const webCodecs = typeof ImageDecoder === 'function';

async function decode(bytes: Uint8Array<ArrayBuffer>): Promise<ImageBitmap> {
  if (webCodecs) {
    const dec = new ImageDecoder({ data: bytes, type: 'image/jpeg' });
    try {
      const { image } = await dec.decode();
      try {
        return await createImageBitmap(image);
      } finally {
        image.close();
      }
    } finally {
      dec.close();
    }
  }
  return createImageBitmap(new Blob([bytes], { type: 'image/jpeg' }));
}

scope.onmessage = (ev) => {
  const { id, bytes } = ev.data;
  decode(bytes).then(
    (bitmap) => scope.postMessage({ id, bitmap }, [bitmap]),
    (e: unknown) => scope.postMessage({ id, error: e instanceof Error ? e.message : String(e) }),
  );
};
