/**
 * The anywidget entry point: one bundle serves every widget class (see render.ts).
 * Only a default export, as anywidget >= 0.9 expects.
 */
import { initialize, render } from "./render";

export default { initialize, render };
