import { expect, it } from 'vitest';
import { loadTf } from '../../src/faces/learn/tf.js';
import { trainTriplet } from '../../src/faces/learn/train.js';
import { clusteredSet } from '../../src/faces/learn/synthetic.js';

it('triplet training leaves no tensor behind, whatever the epochs and weight decay', async () => {
  const tf = await loadTf();
  const train = clusteredSet({ identities: 4, perIdentity: 3, seed: 11, prefix: 'tr' });
  for (const recipe of [{ epochs: 1 }, { epochs: 3 }, { epochs: 1, weightDecay: 0 }]) {
    const before = tf.memory().numTensors;
    await trainTriplet(train, { recipe });
    expect(tf.memory().numTensors - before, JSON.stringify(recipe)).toBe(0);
  }
});
