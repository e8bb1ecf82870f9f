// Bundles the widget's ES module into the Python package, so `pip install` needs no node.
import { build } from "esbuild";

await build({
  entryPoints: ["src/index.ts"],
  bundle: true,
  format: "esm",
  minify: true,
  target: "es2022",
  outfile: "../vidlabel/static/widget.js",
});
