import { existsSync, readFileSync } from "node:fs";

/** package.json's version: two folders up from src/ (tsx), three from dist/src/ (the build). */
export function packageVersion(): string {
  const file = [new URL("../package.json", import.meta.url), new URL("../../package.json", import.meta.url)].find((f) => existsSync(f));
  return file ? (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version : "unknown";
}
