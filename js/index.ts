/**
 * The anywidget entry point: one bundle serves every widget class (see render.ts).
 * Only a default export, as anywidget >= 0.9 expects; besides `initialize` and `render` (what anywidget
 * calls) it carries `mountSaved`, which the pages written by `sw.save_html` call (see saved.ts).
 */
import { initialize, render } from "./render";
import { mountSaved } from "./saved";

export default {
  initialize,
  render,
  mountSaved: (el: HTMLElement, saved: Parameters<typeof mountSaved>[1]) => mountSaved(el, saved, { initialize, render }),
};
