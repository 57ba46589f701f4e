import { fileURLToPath } from "node:url";

/**
 * The compiled form of `tests/fixtures/<name>.ts` (tsconfig.build.json compiles them beside src;
 * the vitest globalSetup builds before any test runs), for a test to run with plain `node`.
 */
export function compiledFixture(name: string): string {
  return fileURLToPath(new URL(`../../dist/tests/fixtures/${name}.js`, import.meta.url));
}
