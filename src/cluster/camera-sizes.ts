/**
 * Each camera's picture size as last probed by any node (bucket `vigil_camera_sizes`, no TTL), so
 * the next holder of a camera with `embedFrom: auto` skips the probe of its source (an RTSP
 * session of its own, ~3 s) and a moved camera runs again sooner. A hint: a camera whose size
 * changed meanwhile gets a full-resolution plan for the old size until it is probed again
 * (its next start on a node that never saw it).
 */
import { jetstream } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { z } from 'zod';
import type { Logger } from '../log.js';

export const SIZES_BUCKET = 'vigil_camera_sizes';

const Size = z.object({ width: z.number().int().min(1), height: z.number().int().min(1) }).strict();
export type CameraSize = z.infer<typeof Size>;

export class CameraSizes {
  private readonly known = new Map<string, CameraSize>();
  private stopWatch: (() => void) | undefined;

  private constructor(
    private readonly kv: KV,
    private readonly log: Logger,
  ) {}

  static async open(nc: NatsConnection, log: Logger): Promise<CameraSizes> {
    const kv = await new Kvm(jetstream(nc)).create(SIZES_BUCKET, { history: 1, storage: 'file' });
    const sizes = new CameraSizes(kv, log);
    await sizes.follow();
    return sizes;
  }

  /** Every size now and as nodes probe (a watch: reads stay in memory, no I/O per start). */
  private async follow(): Promise<void> {
    const watch = await this.kv.watch();
    this.stopWatch = () => watch.stop();
    void (async () => {
      for await (const e of watch) {
        const camera = e.key.replace(/^cam\./, '');
        const v = e.operation === 'PUT' ? Size.safeParse(e.json()) : undefined;
        if (v?.success) this.known.set(camera, v.data);
        else this.known.delete(camera);
      }
    })().catch(() => undefined);
  }

  get(camera: string): CameraSize | undefined {
    return this.known.get(camera);
  }

  /** Records what this node probed (best effort: a failed write only costs the next holder a probe). */
  put(camera: string, size: CameraSize): void {
    const prev = this.known.get(camera);
    if (prev?.width === size.width && prev.height === size.height) return;
    this.known.set(camera, size);
    this.kv.put(`cam.${camera}`, JSON.stringify(size)).catch((e: Error) => {
      this.log.debug({ camera, err: e.message }, 'camera size not shared');
    });
  }

  stop(): void {
    this.stopWatch?.();
  }
}
