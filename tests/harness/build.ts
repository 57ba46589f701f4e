import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const root = fileURLToPath(new URL("../../", import.meta.url));
const tsc = fileURLToPath(new URL("../../node_modules/typescript/bin/tsc", import.meta.url));

/**
 * `npm run build` (`tsc -b`: an unchanged tree is seen up to date from file times in well under a
 * second; a changed one recompiles from dist/.tsbuildinfo). A type error does not stop the emit or
 * the tests: the typecheck step reports it (scripts/test.mjs); a build that emitted nothing does.
 */
export async function buildDist(): Promise<void> {
  try {
    await promisify(execFile)(process.execPath, [tsc, "-b", "tsconfig.build.json"], { cwd: root, maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    const out = (err as { stdout?: string }).stdout ?? String(err);
    if (!existsSync(`${root}dist/src/cli/main.js`)) throw new Error(`npm run build failed:\n${out}`);
    console.warn(`npm run build reported errors (emitted anyway; the typecheck step fails on them):\n${out.slice(0, 4_000)}`);
  }
}
