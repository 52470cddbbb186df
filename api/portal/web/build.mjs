// Builds the portal from its TypeScript and the npm packages it imports into build/portal/ (no CDN: every byte the
// pages load is served by `scf serve`). Run by `make setup` when a source or the lock file changed:
//   node api/portal/web/build.mjs [--watch]
// build/portal/
//   index.html           the single page (/app), naming app.js and app.css by content hash (caches never go stale)
//   assets/app.<hash>.js  the bundle: lit-html, ECharts, ethers and the pages (ES2022, minified, with a source map)
//   assets/app.<hash>.css
//   docs/                 Swagger UI 5 (swagger-ui-dist) for /docs: the API's OpenAPI 3.1, offline
import { build, context } from "esbuild";
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "../../..");
const out = join(root, "build", "portal");
const watching = process.argv.includes("--watch");

const options = {
  entryPoints: { app: join(here, "src", "main.ts") },
  bundle: true,
  format: "esm",
  target: "es2022",
  minify: !watching,
  sourcemap: true,
  legalComments: "linked",
  outdir: join(out, "assets"),
  entryNames: "[name].[hash]",
  metafile: true,
  logLevel: "warning",
};

function page(metafile) {
  const named = (ext) =>
    Object.keys(metafile.outputs)
      .map((p) => p.split("/").pop())
      .find((f) => f.startsWith("app.") && f.endsWith(ext));
  const html = readFileSync(join(here, "index.html"), "utf8")
    .replace("%APP_JS%", `/app/assets/${named(".js")}`)
    .replace("%APP_CSS%", `/app/assets/${named(".css")}`);
  writeFileSync(join(out, "index.html"), html);
}

function icon() {
  copyFileSync(join(here, "favicon.svg"), join(out, "assets", "favicon.svg"));
}

function docs() {
  const dist = join(root, "node_modules", "swagger-ui-dist");
  mkdirSync(join(out, "docs"), { recursive: true });
  for (const name of ["swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"]) {
    copyFileSync(join(dist, name), join(out, "docs", name));
  }
}

rmSync(join(out, "assets"), { recursive: true, force: true });
if (watching) {
  const ctx = await context({
    ...options,
    plugins: [{ name: "page", setup: (b) => b.onEnd((r) => r.metafile && (page(r.metafile), icon())) }],
  });
  docs();
  await ctx.watch();
} else {
  const result = await build(options);
  page(result.metafile);
  icon();
  docs();
  const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
  const digest = createHash("sha256").update(readdirSync(join(out, "assets")).sort().join(",")).digest("hex");
  writeFileSync(join(out, "BUILD"), `${digest}\n`);
  console.log(`portal built: build/portal (${(bytes / 1e6).toFixed(1)} MB with source maps)`);
}
