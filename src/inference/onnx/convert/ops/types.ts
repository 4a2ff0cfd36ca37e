import type { OnnxGraphBuilder, Val } from '../onnx-graph.js';
import type { TfNode } from '../tf-graph.js';

/** Converts one tfjs node, emitting its ONNX nodes into `g`; returns the node's output value. */
export type OpConverter = (g: OnnxGraphBuilder, n: TfNode) => Val;
