/** dataDir is a folder Vigil can write, checked before anything (ONNX cache, gallery) is put in it. */
import { checkDataDir } from '../../util/startup-errors.js';
import { defineModule } from '../module.js';
import type { BaseContext } from './base.js';

export const dataDirModule = defineModule<BaseContext, object>({
  name: 'data dir',
  start: ({ config }) => {
    checkDataDir(config.dataDir);
    return {};
  },
});
