import { describe } from "vitest";

/**
 * A suite that runs at the same time as the suites next to it made by this module, while its own
 * tests and hooks run one after another. For suites that share nothing (each its own backend,
 * database, servers and names) and spend most of their time waiting (lock expiry, a restart,
 * backoff, a long poll): their waits overlap instead of adding up.
 */
export function describeAtOnce(name: string, body: () => void): void {
  describe.concurrent(name, () => {
    // Tests take `concurrent` from the suite they are in: this unnamed one keeps them in order.
    describe.sequential("", body);
  });
}

/** `describe.each`, with the cases run at the same time (see `describeAtOnce`); tests are named "<title> on <case> > …". */
export function describeCasesAtOnce<T>(title: string, cases: readonly T[], caseName: (c: T) => string, body: (c: T) => void): void {
  for (const c of cases) describeAtOnce(`${title} on ${caseName(c)}`, () => body(c));
}
