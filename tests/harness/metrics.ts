/** The value of the first sample of `name` whose labels contain `labels` (e.g. `outcome="error"`), in Prometheus text. */
export function sampleValue(text: string, name: string, labels: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line === undefined ? undefined : Number(line.split(" ").at(-1));
}
