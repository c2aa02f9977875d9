// Bundles the dashboard (server/ui/src) into server/dist/ui, which Chime serves at /ui/.
// Asset names carry a content hash, so the server lets browsers cache them for good.
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { basename } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const source = (path: string): string => fileURLToPath(new URL(path, import.meta.url));
const outdir = source("../dist/ui/");

await rm(outdir, { recursive: true, force: true });
await mkdir(outdir, { recursive: true });
const result = await build({
  entryPoints: { app: source("src/main.ts"), style: source("src/style.css") },
  outdir,
  entryNames: "[name]-[hash]",
  bundle: true,
  minify: true,
  format: "esm",
  target: ["es2022", "chrome111", "firefox111", "safari16"],
  metafile: true,
  logLevel: "warning",
});

// index.html names the hashed files it loads.
const outputs = Object.entries(result.metafile.outputs);
const emitted = (entry: string): string => {
  const found = outputs.find(([, meta]) => meta.entryPoint?.endsWith(entry));
  if (found === undefined) throw new Error(`esbuild emitted nothing for ${entry}`);
  return basename(found[0]);
};
const page = (await readFile(source("src/index.html"), "utf8"))
  .replace("%APP_JS%", emitted("src/main.ts"))
  .replace("%STYLE_CSS%", emitted("src/style.css"));
await writeFile(`${outdir}index.html`, page);
