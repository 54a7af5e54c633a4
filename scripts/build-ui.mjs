// Builds the dashboard's pages (ui/) into dist/ui/: ui/main.ts bundled and minified into app.js,
// our CSS and uPlot's into app.css, and index.html as it is (it loads assets/app.css and
// assets/app.js by relative paths, so the dashboard works at any mount path).
import { build, transform } from "esbuild";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
// `node scripts/build-ui.mjs [outdir]`: dist/ui unless told (specs build into a temporary folder).
const out = process.argv[2] ?? join(root, "dist/ui");
mkdirSync(out, { recursive: true });

await build({
  entryPoints: [join(root, "ui/main.ts")],
  outfile: join(out, "app.js"),
  bundle: true,
  minify: true,
  format: "iife",
  target: "es2020",
  platform: "browser",
  legalComments: "eof",
  logLevel: "warning",
});

const require = createRequire(import.meta.url);
const uplotCss = readFileSync(require.resolve("uplot/dist/uPlot.min.css"), "utf8");
const ours = readFileSync(join(root, "ui/style.css"), "utf8");
const css = await transform(`${uplotCss}\n${ours}`, { loader: "css", minify: true, target: "es2020" });
writeFileSync(join(out, "app.css"), css.code);

copyFileSync(join(root, "ui/index.html"), join(out, "index.html"));
console.log(`build-ui: ${out}/index.html, app.js, app.css`);
