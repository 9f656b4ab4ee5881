/**
 * The engine's tool table. Importing it is cheap: no module of src/engine loads sharp at top level (each
 * tool loads it through common.ts `loadSharp()` when it runs), so the CLI's --help does not pay for it.
 */
import type { ToolName } from '../protocol/tools.js';
import { tool as compressimage } from './compress.js';
import { tool as convertimage } from './convert.js';
import { tool as cropimage } from './crop.js';
import { tool as removebackgroundimage } from './removebackground.js';
import { tool as repairimage } from './repair.js';
import { tool as resizeimage } from './resize.js';
import { tool as rotateimage } from './rotate.js';
import type { ToolImpl } from './types.js';
import { tool as upscaleimage } from './upscale.js';
import { tool as watermarkimage } from './watermark.js';

export { EngineError } from './types.js';
export type { EngineContext, EngineInput, EngineOutput, ToolImpl, ToolParams } from './types.js';

export const ENGINE_TOOLS: Record<ToolName, ToolImpl> = {
  compressimage,
  cropimage,
  convertimage,
  removebackgroundimage,
  repairimage,
  resizeimage,
  rotateimage,
  upscaleimage,
  watermarkimage,
};
