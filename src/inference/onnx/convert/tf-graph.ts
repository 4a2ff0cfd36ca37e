/**
 * The tfjs side of the converter: a graph node as tfjs-converter writes it in model.json, how its
 * inputs and attributes are read, and the error for an op the converter cannot handle.
 */
import type { WeightSpec } from '../weights.js';

/** A tfjs graph node as stored in model.json. */
export interface TfNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, TfAttr>;
}
interface TfAttr {
  s?: string;
  i?: string | number;
  f?: number;
  b?: boolean;
  type?: string;
  shape?: { dim?: Array<{ size: string | number }>; unknownRank?: boolean };
  list?: { i?: Array<string | number>; s?: string[]; f?: number[] };
}

/** What the converter needs: the topology, the weights, and which outputs to produce. */
export interface TfGraph {
  nodes: TfNode[];
  weightSpecs: WeightSpec[];
  weightData: Uint8Array;
}

/** An op (or op variant) the converter does not handle; names the op and the node. */
export class UnsupportedOpError extends Error {
  constructor(
    readonly op: string,
    readonly node: string,
    detail = '',
  ) {
    super(`unsupported op "${op}" at node "${node}"${detail ? `: ${detail}` : ''}`);
    this.name = 'UnsupportedOpError';
  }
}

const b64 = (s: string | undefined): string => (s ? Buffer.from(s, 'base64').toString('utf8') : '');

export function attrStr(n: TfNode, k: string): string | undefined {
  const a = n.attr?.[k];
  return a?.s !== undefined ? b64(a.s) : undefined;
}
export function attrInts(n: TfNode, k: string): number[] | undefined {
  return n.attr?.[k]?.list?.i?.map(Number);
}
export function attrInt(n: TfNode, k: string, dflt: number): number {
  const v = n.attr?.[k]?.i;
  return v === undefined ? dflt : Number(v);
}
export function attrBool(n: TfNode, k: string): boolean {
  return n.attr?.[k]?.b === true;
}
export function attrFloat(n: TfNode, k: string, dflt: number): number {
  return n.attr?.[k]?.f ?? dflt;
}
export function attrStrList(n: TfNode, k: string): string[] {
  return (n.attr?.[k]?.list?.s ?? []).map(b64);
}

/** Splits "node:1" into the node name and output index; "^node" (control input) gives null. */
export function parseInput(s: string): { node: string; index: number } | null {
  if (s.startsWith('^')) return null;
  const m = /^(.*):(\d+)$/.exec(s);
  return m ? { node: m[1] as string, index: Number(m[2]) } : { node: s, index: 0 };
}

/** Output names of a tfjs graph when none are given: every non-Const node that nothing consumes. */
export function sinkOutputs(nodes: TfNode[]): string[] {
  const used = new Set<string>();
  for (const n of nodes) for (const i of n.input ?? []) used.add(parseInput(i)?.node ?? '');
  return nodes
    .filter((n) => n.op !== 'Const' && n.op !== 'Placeholder' && !used.has(n.name))
    .map((n) => n.name);
}
