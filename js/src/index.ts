// Entry point of the widget bundle: the anywidget module (render returns its cleanup).

import type { Model } from "./sync";
import { AnnotatorView } from "./view";

export { decodeCounts, decodeMask } from "./rle";

export default {
  render({ model, el }: { model: Model; el: HTMLElement }): () => void {
    const view = new AnnotatorView(model, el);
    return () => view.dispose();
  },
};
