/**
 * Every detection result a viewer was shown of one stream (display frames repeat the latest result:
 * kept once per detectionSeq), to tell afterwards whose face an alert's track was: the e2e tests
 * check that an unknown alert is for a face that is not an enrolled person's, by where and when its
 * track was against the tracks that carried a name.
 */
import type { Detection } from '../../src/inference/contract.js';
import { iou } from '../../src/faces/detect/blazeface.js';
import type { ReceivedFrame } from './ws-client.js';

export interface LoggedFace {
  trackId: number;
  label?: string;
  box: Detection['box'];
}

export interface DetectionResult {
  detectionSeq: number;
  captureTs: number;
  faces: LoggedFace[];
}

/** IoU from which a box of the next detection result is the same face (the tracker continues at 0.3). */
const SAME_FACE_IOU = 0.3;

export class TrackLog {
  readonly results: DetectionResult[] = [];

  constructor(readonly stream: string) {}

  /** Give it every frame (TestViewer.onFrame). */
  add(f: ReceivedFrame): void {
    const h = f.header;
    if (h.stream !== this.stream || h.detectionSeq === null) return;
    if (this.results.at(-1)?.detectionSeq === h.detectionSeq) return;
    const faces = (h.detections as LoggedFace[]).map(({ trackId, label, box }) => ({ trackId, label, box }));
    this.results.push({ detectionSeq: h.detectionSeq, captureTs: h.captureTs, faces });
  }

  /** Seconds from the first result to the last. */
  get seconds(): number {
    const first = this.results[0]?.captureTs ?? 0;
    return ((this.results.at(-1)?.captureTs ?? first) - first) / 1000;
  }

  /** The track's first face in the log, with the index of its result; undefined: never shown. */
  firstOf(trackId: number): { index: number; face: LoggedFace } | undefined {
    for (const [index, r] of this.results.entries()) {
      const face = r.faces.find((d) => d.trackId === trackId);
      if (face) return { index, face };
    }
    return undefined;
  }

  /**
   * Names out of `names` that a track's face belonged to: carried by the track itself at any time,
   * or by another track at the same place in the result just before the track began (the face
   * continued under a new id: a split, or a restart by the continuity check).
   */
  namesOf(trackId: number, names: ReadonlySet<string>): string[] {
    const found = new Set<string>();
    for (const r of this.results)
      for (const d of r.faces) if (d.trackId === trackId && d.label && names.has(d.label)) found.add(d.label);
    const first = this.firstOf(trackId);
    const before = first ? this.results[first.index - 1] : undefined;
    for (const d of before?.faces ?? [])
      if (
        d.label &&
        names.has(d.label) &&
        iou(d.box, (first as { face: LoggedFace }).face.box) >= SAME_FACE_IOU
      )
        found.add(`${d.label} (continued from track ${d.trackId})`);
    return [...found];
  }
}
