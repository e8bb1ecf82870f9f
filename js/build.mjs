// Bundles the widget's ES module into the Python package, so `pip install` needs no node.
// `node build.mjs OUTFILE` writes the bundle elsewhere (the tests compare such a build with the shipped one).
import { build } from "esbuild";

await build({
  entryPoints: ["src/index.ts"],
  bundle: true,
  format: "esm",
  minify: true,
  target: "es2022",
  outfile: process.argv[2] ?? "../vidlabel/static/widget.js",
});
