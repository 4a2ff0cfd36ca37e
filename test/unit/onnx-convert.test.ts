import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { convertTfGraph, sinkOutputs, UnsupportedOpError } from '../../src/inference/onnx/convert/index.js';
import { decodeModel, encodeModel } from '../../src/inference/onnx/proto.js';
import { compareImages } from '../../src/inference/onnx/verify.js';
import { decodeWeights, float16ToFloat32, transposeData } from '../../src/inference/onnx/weights.js';
import { GraphBuilder, lcg, runTfjs } from '../helpers/onnx-graph.js';

async function runOrt(bytes: Uint8Array, input: Float32Array, shape: number[], outputs: string[]) {
  const s = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all', intraOpNumThreads: 1 });
  try {
    const r = await s.run({ [s.inputNames[0] as string]: new ort.Tensor('float32', input, shape) }, outputs);
    return outputs.map((o) => ({ data: r[o]?.data as Float32Array, dims: [...(r[o]?.dims ?? [])] }));
  } finally {
    await s.release();
  }
}

/**
 * A style-net-like graph using every op the style nets may use: reflect padding, convolutions
 * (plain and depthwise), instance normalisation (Mean over H,W with keep_dims, SquaredDifference,
 * Rsqrt), nearest and bilinear resizes (half-pixel and align-corners), clipping and the activations.
 */
function styleGraph(): { g: ReturnType<GraphBuilder['graph']>; out: string } {
  const rnd = lcg(7);
  const b = new GraphBuilder();
  const x = b.input('image', [-1, -1, -1, 3]);
  const pad = b.op('pad', 'MirrorPad', [x, b.const('pad/p', [4, 2], [0, 0, 1, 1, 1, 1, 0, 0], 'int32')], {
    mode: 'REFLECT',
  });
  const c1 = b.op('c1', 'Conv2D', [pad, b.rand('c1/w', [3, 3, 3, 8], rnd, 0.5)], {
    padding: 'VALID',
    strides: [1, 1, 1, 1],
    dilations: [1, 1, 1, 1],
    data_format: 'NHWC',
  });
  const b1 = b.op('b1', 'BiasAdd', [c1, b.rand('b1/b', [8], rnd, 0.1)], { data_format: 'NHWC' });
  const axes = b.const('in/axes', [2], [1, 2], 'int32');
  const mean = b.op('in/mean', 'Mean', [b1, axes], { keep_dims: true });
  const sq = b.op('in/sq', 'SquaredDifference', [b1, mean]);
  const variance = b.op('in/var', 'Mean', [sq, axes], { keep_dims: true });
  const inv = b.op('in/inv', 'Rsqrt', [b.op('in/eps', 'AddV2', [variance, b.const('in/e', [], [1e-3])])]);
  const norm = b.op('in/norm', 'Mul', [b.op('in/centre', 'Sub', [b1, mean]), inv]);
  const affine = b.op('in/affine', 'AddV2', [
    b.op('in/scale', 'Mul', [norm, b.rand('in/gamma', [8], rnd)]),
    b.rand('in/beta', [8], rnd, 0.2),
  ]);
  const r = b.op('relu', 'Relu', [affine]);
  const dw = b.op('dw', 'DepthwiseConv2dNative', [r, b.rand('dw/w', [3, 3, 8, 1], rnd, 0.5)], {
    padding: 'SAME',
    strides: [1, 2, 2, 1],
    dilations: [1, 1, 1, 1],
    data_format: 'NHWC',
  });
  const p2 = b.op('pad2', 'Pad', [dw, b.const('pad2/p', [4, 2], [0, 0, 0, 1, 1, 0, 0, 0], 'int32')]);
  const up = b.op('up', 'ResizeNearestNeighbor', [p2, b.const('up/size', [2], [15, 20], 'int32')], {
    align_corners: false,
    half_pixel_centers: true,
  });
  const up2 = b.op('up2', 'ResizeNearestNeighbor', [p2, b.const('up2/size', [2], [15, 20], 'int32')], {
    align_corners: false,
    half_pixel_centers: false,
  });
  const bl = b.op(
    'bl',
    'ResizeBilinear',
    [b.op('upsum', 'AddV2', [up, up2]), b.const('bl/size', [2], [12, 16], 'int32')],
    {
      align_corners: false,
      half_pixel_centers: true,
    },
  );
  const bl2 = b.op('bl2', 'ResizeBilinear', [p2, b.const('bl2/size', [2], [12, 16], 'int32')], {
    align_corners: true,
    half_pixel_centers: false,
  });
  const sum = b.op('sum', 'AddV2', [bl, bl2]);
  const t = b.op('tanh', 'Tanh', [sum]);
  const s = b.op('sig', 'Sigmoid', [sum]);
  const m = b.op('div', 'RealDiv', [t, b.op('sig1', 'AddV2', [s, b.const('one', [], [1])])]);
  const clip = b.op('clip', 'ClipByValue', [m, b.const('lo', [], [-0.5]), b.const('hi', [], [0.5])]);
  const mx = b.op('max', 'Maximum', [clip, b.const('floor', [], [-0.25])]);
  const mn = b.op('min', 'Minimum', [mx, s]);
  const c2 = b.op('c2', 'Conv2D', [mn, b.rand('c2/w', [1, 1, 8, 3], rnd)], {
    padding: 'SAME',
    strides: [1, 1, 1, 1],
    dilations: [1, 1, 1, 1],
    data_format: 'NHWC',
  });
  const out = b.op('output', 'Identity', [b.op('out/sig', 'Sigmoid', [c2])]);
  return { g: b.graph(), out };
}

describe('tfjs -> ONNX converter', () => {
  it('writes ONNX protobuf that reads back (opset, symbolic batch, initializers)', () => {
    const { g, out } = styleGraph();
    const model = convertTfGraph(g, { outputs: [out], name: 'style-test' });
    const back = decodeModel(encodeModel(model));
    expect(back.opset).toBe(17);
    expect(back.producerName).toBe('vigil');
    expect(back.graph.input[0]?.shape).toEqual(['batch', 'height', 'width', 3]);
    expect(back.graph.output.map((o) => o.name)).toEqual(['output']);
    expect(back.graph.node.length).toBe(model.graph.node.length);
    // conv filters are stored OIHW
    const w = back.graph.initializer.find((t) => t.name === 'c1/W');
    expect(w?.dims).toEqual([8, 3, 3, 3]);
  });

  it('converts every style-net op: ONNX Runtime matches tfjs at two sizes and batch 2', async () => {
    const { g, out } = styleGraph();
    const bytes = encodeModel(convertTfGraph(g, { outputs: [out] }));
    const rnd = lcg(3);
    for (const [h, w] of [
      [12, 16],
      [10, 14],
    ] as const) {
      const shape = [2, h, w, 3];
      const x = Float32Array.from({ length: 2 * h * w * 3 }, () => rnd());
      const [ref] = await runTfjs(g, x, shape, [out]);
      const [got] = await runOrt(bytes, x, shape, [out]);
      expect(got?.dims).toEqual([2, 12, 16, 3]);
      const eq = compareImages(ref as Float32Array, got?.data as Float32Array, 255, `${h}x${w}`);
      expect(eq.ok, `max abs ${eq.value / 255}`).toBe(true);
      expect(eq.value / 255).toBeLessThan(1e-4);
    }
  });

  it('an unsupported op is an error naming the op and the node', () => {
    const b = new GraphBuilder();
    const x = b.input('x', [-1, 4]);
    const y = b.op('block3/erfinv', 'Erfinv', [x]);
    expect(() => convertTfGraph(b.graph(), { outputs: [y] })).toThrow(UnsupportedOpError);
    expect(() => convertTfGraph(b.graph(), { outputs: [y] })).toThrow(
      'unsupported op "Erfinv" at node "block3/erfinv"',
    );
  });

  it('an unsupported variant names the node too (SYMMETRIC MirrorPad, NCHW conv)', () => {
    const b = new GraphBuilder();
    const x = b.input('x', [-1, 8, 8, 3]);
    const p = b.op('pad', 'MirrorPad', [x, b.const('p', [4, 2], [0, 0, 1, 1, 1, 1, 0, 0], 'int32')], {
      mode: 'SYMMETRIC',
    });
    expect(() => convertTfGraph(b.graph(), { outputs: [p] })).toThrow(/"MirrorPad" at node "pad".*SYMMETRIC/);
  });

  it('corrupt models: missing weights, dangling inputs and unknown outputs are named', () => {
    const b = new GraphBuilder();
    const x = b.input('x', [-1, 4]);
    b.const('k', [4], [1, 2, 3, 4]);
    const y = b.op('y', 'Mul', [x, 'k']);
    const g = b.graph();
    expect(() => convertTfGraph({ ...g, weightData: g.weightData.subarray(0, 8) }, { outputs: [y] })).toThrow(
      /weight "k": the weight files end before its data/,
    );
    const dangling = { ...g, nodes: [...g.nodes, { name: 'z', op: 'Relu', input: ['nowhere'] }] };
    expect(() => convertTfGraph(dangling, { outputs: ['z'] })).toThrow(
      /node "nowhere" is referenced but not defined/,
    );
    expect(() => convertTfGraph(g, { outputs: ['nope'] })).toThrow(/output "nope" is not a node/);
  });

  it('default outputs are the graph sinks', () => {
    const { g } = styleGraph();
    expect(sinkOutputs(g.nodes)).toEqual(['output']);
  });
});

describe('weights', () => {
  it('decodes float16 and uint8-quantised weights as tfjs does', () => {
    expect(float16ToFloat32(0x3c00)).toBe(1);
    expect(float16ToFloat32(0xc000)).toBe(-2);
    expect(float16ToFloat32(0x3555)).toBeCloseTo(0.333251953125, 10);
    const bytes = new Uint8Array([0x00, 0x3c, 0x00, 0xc0, 0, 10, 255]);
    const w = decodeWeights(
      [
        { name: 'h', shape: [2], dtype: 'float32', quantization: { dtype: 'float16' } },
        { name: 'q', shape: [3], dtype: 'float32', quantization: { dtype: 'uint8', scale: 0.5, min: -1 } },
      ],
      bytes,
    );
    expect(Array.from(w.get('h')?.data ?? [])).toEqual([1, -2]);
    expect(Array.from(w.get('q')?.data ?? [])).toEqual([-1, 4, 126.5]);
  });

  it('transposes like numpy', () => {
    const t = transposeData(Float32Array.from([0, 1, 2, 3, 4, 5]), [2, 3], [1, 0]);
    expect(t.shape).toEqual([3, 2]);
    expect(Array.from(t.data)).toEqual([0, 3, 1, 4, 2, 5]);
  });
});
