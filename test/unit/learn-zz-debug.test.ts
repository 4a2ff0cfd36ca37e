import { it } from 'vitest';
import { loadTf } from '../../src/faces/learn/tf.js';
import { trainTriplet } from '../../src/faces/learn/train.js';
import { clusteredSet } from '../../src/faces/learn/synthetic.js';
it('dbg', async () => {
  const tf = await loadTf();
  const train = clusteredSet({ identities: 4, perIdentity: 3, seed: 11, prefix: 'tr' });
  for (const e of [1, 2, 3]) {
    const b = tf.memory().numTensors;
    await trainTriplet(train, { recipe: { epochs: e } });
    console.log('epochs', e, 'leak', tf.memory().numTensors - b);
  }
  const b = tf.memory().numTensors;
  await trainTriplet(train, { recipe: { epochs: 1, weightDecay: 0 } });
  console.log('nodecay leak', tf.memory().numTensors - b);
});
