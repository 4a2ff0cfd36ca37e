/** TensorFlow's sliding-window attributes (padding, strides, dilations, data_format) for ONNX. */
import type { OnnxAttribute } from '../../proto.js';
import { attr } from '../onnx-graph.js';
import { attrInts, attrStr, type TfNode, UnsupportedOpError } from '../tf-graph.js';

export function convPadding(n: TfNode): OnnxAttribute[] {
  const padding = attrStr(n, 'padding') ?? 'VALID';
  if (padding === 'SAME') return [attr.s('auto_pad', 'SAME_UPPER')];
  if (padding === 'VALID') return [attr.s('auto_pad', 'VALID')];
  if (padding === 'EXPLICIT') {
    const p = attrInts(n, 'explicit_paddings') ?? [];
    if (p.length !== 8) throw new UnsupportedOpError(n.op, n.name, 'explicit_paddings must have 8 values');
    return [attr.ints('pads', [p[2], p[4], p[3], p[5]] as number[])];
  }
  throw new UnsupportedOpError(n.op, n.name, `padding "${padding}"`);
}

/** Only NHWC models are converted (what tfjs-converter writes). */
export function checkNhwc(n: TfNode): void {
  const f = attrStr(n, 'data_format');
  if (f && f !== 'NHWC') throw new UnsupportedOpError(n.op, n.name, `data_format "${f}"`);
}

/** The [H, W] entries of an NHWC 4-vector attribute (strides, dilations, ksize). */
export function spatial(n: TfNode, key: string, dflt: number): [number, number] {
  const v = attrInts(n, key);
  return v && v.length === 4 ? [v[1] as number, v[2] as number] : [dflt, dflt];
}
