import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import type { Tf } from './tf.js';

/**
 * Adam (Kingma & Ba) for a few variables. tfjs-core's own optimizer leaves a tensor behind on
 * dispose() in 4.22; this one owns exactly two moment tensors per variable and frees them.
 */
export class Adam {
  private m = new Map<Variable, Variable>();
  private v = new Map<Variable, Variable>();
  private t = 0;
  constructor(
    private readonly tf: Tf,
    readonly lr: number,
    readonly beta1 = 0.9,
    readonly beta2 = 0.999,
    readonly eps = 1e-8,
  ) {}

  /** One update; `grads` by variable name (as tf.variableGrads returns them). */
  step(vars: Record<string, Variable>, grads: Record<string, Tensor>): void {
    const { tf, beta1, beta2 } = this;
    this.t++;
    const c1 = 1 - beta1 ** this.t;
    const c2 = 1 - beta2 ** this.t;
    for (const [name, x] of Object.entries(vars)) {
      const g = grads[x.name] ?? grads[name];
      if (!g) continue;
      let m = this.m.get(x);
      let v = this.v.get(x);
      if (!m || !v) {
        m = tf.tidy(() => tf.variable(tf.zerosLike(x), false));
        v = tf.tidy(() => tf.variable(tf.zerosLike(x), false));
        this.m.set(x, m);
        this.v.set(x, v);
      }
      const mm = m;
      const vv = v;
      tf.tidy(() => {
        const m1 = tf.add(tf.mul(mm, beta1), tf.mul(g, 1 - beta1));
        const v1 = tf.add(tf.mul(vv, beta2), tf.mul(tf.square(g), 1 - beta2));
        mm.assign(m1);
        vv.assign(v1);
        x.assign(tf.sub(x, tf.div(tf.mul(m1, this.lr / c1), tf.add(tf.sqrt(tf.div(v1, c2)), this.eps))));
      });
    }
  }

  dispose(): void {
    this.tf.dispose([...this.m.values(), ...this.v.values()]);
    this.m.clear();
    this.v.clear();
  }
}
