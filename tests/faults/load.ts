import type { FakeProviderServer } from "../fakes/openai-server.ts";
import { openaiRoutes } from "../fakes/provider-server/openai-routes.ts";
import { sleep } from "../harness/wait.ts";

/**
 * The fault suite's load and its bookkeeping: a steady stream of `llm.complete` jobs through the
 * public jobs API, each carrying a unique marker in its prompt, then every accepted job followed to
 * the end through `GET /ai/jobs/{id}`, and the fake provider's side counted per marker.
 */

export interface ApiTarget {
  /** `http://127.0.0.1:PORT` of a process serving the jobs API. */
  url: string;
  /** A key with jobs:read and jobs:write. */
  key: string;
}

export interface Submission {
  marker: string;
  /** Set once the API accepted the job (202, or 200 for a repeat of a request whose answer was lost). */
  id?: string;
  /** Requests made for it (a refused one is retried with the same client_request_id, as a client would). */
  tries: number;
  lastError?: string;
  /** What each refused try got: an HTTP status and error code, or the network error. */
  refusals: string[];
}

interface JobView {
  id: string;
  status: string;
  attempts: number;
  error: string | null;
  result: { text?: string } | null;
}

const MARKER = /\[job:([^\]\s]+)\]/;
const auth = (key: string) => ({ authorization: `Bearer ${key}`, "content-type": "application/json" });

const markerOf = (text: string): string | undefined => MARKER.exec(text)?.[1];

function promptOf(body: unknown): string {
  const messages = (body as { messages?: { role?: string; content?: unknown }[] } | undefined)?.messages ?? [];
  return messages.map((m) => (typeof m.content === "string" ? m.content : "")).join("\n");
}

/**
 * The provider's side of the books, per job marker. `requested` counts every chat request as it
 * arrives, before any scripted fault answers it; `paid` counts the calls the fake answered with a
 * completion (what a real provider bills), including those whose caller died while the answer was
 * on its way. (The fake drops a request whose caller is gone before its latency is over: unpaid.)
 */
export class ProviderLedger {
  #storm = { until: 0, retryAfterSeconds: 1 };
  readonly requested = new Map<string, number>();
  /** Requests a scripted fault answered (5xx, 429): retries inside one attempt, not re-runs. */
  readonly refused = new Map<string, number>();
  readonly paid = new Map<string, number>();

  constructor(private readonly fake: FakeProviderServer) {
    const chat = openaiRoutes(fake.state).find((r) => r.name === "chat");
    if (!chat) throw new Error("the fake provider has no chat route");
    const cost = (body: unknown) => chat.cost?.(body) ?? { model: "", tokens: 0 };
    // Matched before the built-in route: notes the marker, then lets the fake's faults and handler run as usual.
    fake.addRoutes([
      {
        ...chat,
        faults: false,
        handle: async (ctx) => {
          const marker = markerOf(promptOf(ctx.body));
          if (marker) this.requested.set(marker, (this.requested.get(marker) ?? 0) + 1);
          // A storm answers every request while it lasts (the fake's own 429s are a count, which a retry outlasts).
          if (Date.now() < this.#storm.until) fake.rateLimitNext({ count: 1, retryAfterSeconds: this.#storm.retryAfterSeconds });
          if (await fake.state.gate(chat, ctx, () => cost(ctx.body))) return chat.handle(ctx);
          if (marker && ctx.res.statusCode >= 400) this.refused.set(marker, (this.refused.get(marker) ?? 0) + 1);
        },
      },
    ]);
  }

  /** Every chat request answers 429 with `Retry-After: retryAfterSeconds` for the next `ms`. */
  storm429(ms: number, retryAfterSeconds: number): void {
    this.#storm = { until: Date.now() + ms, retryAfterSeconds };
  }

  /** A well-behaved provider again, zeroed counters, `latencyMs` per call. */
  reset(latencyMs: number): void {
    this.#storm = { until: 0, retryAfterSeconds: 1 };
    this.fake.reset();
    this.requested.clear();
    this.refused.clear();
    this.paid.clear();
    this.fake.setLatency(latencyMs);
    this.fake.setResponder((messages) => {
      const text = [...messages].reverse().find((m) => m.role === "user")?.content ?? "";
      const marker = markerOf(text);
      if (marker) this.paid.set(marker, (this.paid.get(marker) ?? 0) + 1);
      return `echo: ${text}`;
    });
  }

  /** How many times the job's handler called the provider afresh: requests not refused by a scripted fault. */
  runs(marker: string): number {
    return (this.requested.get(marker) ?? 0) - (this.refused.get(marker) ?? 0);
  }

  /** Chat requests that reached the provider, answered or refused. */
  calls(): number {
    return this.fake.stats.byRoute.chat ?? 0;
  }
}

export interface LoadOptions {
  /** Names the markers (and the summary line). */
  fault: string;
  jobs: number;
  perSecond: number;
  /** How long a refused submission keeps being retried once both the fault and the load's pace are over. @default 30 s */
  retryForMs?: number;
}

async function submitOne(target: () => ApiTarget, marker: string, givenUp: () => boolean): Promise<Submission> {
  const submission: Submission = { marker, tries: 0, refusals: [] };
  const body = JSON.stringify({
    type: "llm.complete",
    input: { prompt: `[job:${marker}] Say the marker back.`, cache: false },
    client_request_id: marker,
  });
  for (;;) {
    submission.tries += 1;
    const { url, key } = target();
    try {
      const res = await fetch(`${url}/ai/jobs`, { method: "POST", headers: auth(key), body, signal: AbortSignal.timeout(15_000) });
      const answer = (await res.json().catch(() => ({}))) as { id?: string; error?: { code?: string } };
      if ((res.status === 202 || res.status === 200) && answer.id) return { ...submission, id: answer.id };
      submission.lastError = `${res.status} ${answer.error?.code ?? ""}`.trim();
      submission.refusals.push(submission.lastError);
      // Validation or auth errors would be the suite's own bug: retrying would not change them.
      if (res.status >= 400 && res.status < 500 && ![408, 409, 429].includes(res.status)) return submission;
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      submission.lastError = cause ?? (err instanceof Error ? err.name : String(err));
      submission.refusals.push(submission.lastError);
    }
    if (givenUp()) return submission;
    await sleep(250);
  }
}

/** A steady stream of jobs; `accepted()` lets a fault wait until the load is under way. */
export class SteadyLoad {
  readonly done: Promise<Submission[]>;
  #accepted = 0;
  #faultOverAt: number | undefined;

  /** `target` is read per request, so a restarted API on another address can be swapped in. */
  constructor(
    target: ApiTarget | (() => ApiTarget),
    readonly options: LoadOptions,
  ) {
    const resolve = typeof target === "function" ? target : () => target;
    this.done = this.#run(resolve);
  }

  accepted(): number {
    return this.#accepted;
  }

  /** From now on a refused submission is retried for `retryForMs` more, then given up. */
  faultOver(): void {
    this.#faultOverAt ??= Date.now();
  }

  /** Resolves once `n` jobs were accepted (fails after `timeoutMs`). */
  async untilAccepted(n: number, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.#accepted < n) {
      if (Date.now() > deadline) throw new Error(`load: only ${this.#accepted} of ${n} jobs accepted in ${timeoutMs} ms`);
      await sleep(50);
    }
  }

  async #run(target: () => ApiTarget): Promise<Submission[]> {
    const { fault, jobs, perSecond } = this.options;
    const run = `${fault}-${Date.now().toString(36)}`;
    const start = Date.now();
    const paceEnd = start + (jobs / perSecond) * 1000;
    const retryForMs = this.options.retryForMs ?? 30_000;
    // A client keeps retrying while the fault lasts (a restart of the only process may take a while), then a little longer.
    const givenUp = () => this.#faultOverAt !== undefined && Date.now() > Math.max(this.#faultOverAt, paceEnd) + retryForMs;
    const pending: Promise<Submission>[] = [];
    for (let i = 0; i < jobs; i++) {
      const due = start + (i * 1000) / perSecond;
      if (due > Date.now()) await sleep(due - Date.now());
      pending.push(submitOne(target, `${run}-${i}`, givenUp).then((s) => (s.id && (this.#accepted += 1), s)));
    }
    return Promise.all(pending);
  }
}

export interface FaultReport {
  fault: string;
  accepted: number;
  completed: number;
  failed: number;
  /** Accepted, but neither completed nor failed by the deadline (a 404 included). */
  lost: number;
  /** Never accepted although the client kept retrying well past the fault. */
  refused: number;
  /** Jobs the provider answered more than once (paid twice). */
  twice: number;
  /** Chat requests that reached the provider, answered or refused. */
  providerCalls: number;
  /** Jobs whose `attempts` says they ran more than once. */
  retried: number;
  /** Jobs that called the provider afresh more than once while their `attempts` says 1: re-runs the job state hides. */
  hidden: number;
  /** Completed jobs whose result is not their own prompt's echo, or that no provider call answered. */
  wrong: number;
  /** What refused submission tries got, e.g. `503_DEPENDENCY_UNAVAILABLEx12,ECONNREFUSEDx3` (empty when none was refused). */
  answersWhileRefused: string;
  /** Anything else worth one summary field (exit codes, item counts). */
  extra: Record<string, number | string>;
  samples: { failed: string[]; lost: string[]; refused: string[]; twice: string[] };
}

async function fetchJob(target: ApiTarget, id: string): Promise<JobView | undefined> {
  try {
    const res = await fetch(`${target.url}/ai/jobs/${id}`, { headers: auth(target.key), signal: AbortSignal.timeout(15_000) });
    return res.ok ? ((await res.json()) as JobView) : undefined;
  } catch {
    return undefined;
  }
}

/** Follows every accepted job until it is completed or failed, or until `deadlineMs` from now. */
async function followJobs(
  target: ApiTarget | (() => ApiTarget),
  submissions: readonly Submission[],
  deadlineMs: number,
): Promise<Map<string, JobView>> {
  const resolve = typeof target === "function" ? target : () => target;
  const final = new Map<string, JobView>();
  let open = submissions.filter((s) => s.id).map((s) => s.id as string);
  const deadline = Date.now() + deadlineMs;
  while (open.length > 0 && Date.now() < deadline) {
    for (let i = 0; i < open.length; i += 20) {
      const views = await Promise.all(open.slice(i, i + 20).map((id) => fetchJob(resolve(), id)));
      for (const view of views) if (view && (view.status === "completed" || view.status === "failed")) final.set(view.id, view);
    }
    open = open.filter((id) => !final.has(id));
    if (open.length > 0) await sleep(500);
  }
  return final;
}

/** Puts the load, the jobs' final states and the provider's books together. */
function report(fault: string, submissions: readonly Submission[], final: Map<string, JobView>, ledger: ProviderLedger): FaultReport {
  const r: FaultReport = {
    fault,
    accepted: 0,
    completed: 0,
    failed: 0,
    lost: 0,
    refused: 0,
    twice: 0,
    providerCalls: ledger.calls(),
    retried: 0,
    hidden: 0,
    wrong: 0,
    answersWhileRefused: "",
    extra: {},
    samples: { failed: [], lost: [], refused: [], twice: [] },
  };
  const sample = (list: string[], text: string) => void (list.length < 5 && list.push(text));
  const refusals = new Map<string, number>();
  for (const s of submissions) {
    for (const why of s.refusals) refusals.set(why, (refusals.get(why) ?? 0) + 1);
    const paid = ledger.paid.get(s.marker) ?? 0;
    if (!s.id) {
      r.refused += 1;
      sample(r.samples.refused, `${s.marker} after ${s.tries} tries: ${s.lastError}`);
      continue;
    }
    r.accepted += 1;
    const view = final.get(s.id);
    if (paid > 1) r.twice += 1;
    if (paid > 1) sample(r.samples.twice, `${s.id} paid ${paid}x, attempts ${view?.attempts}`);
    if (ledger.runs(s.marker) > 1 && view && view.attempts <= 1) r.hidden += 1;
    if (!view) {
      r.lost += 1;
      sample(r.samples.lost, s.id);
      continue;
    }
    if (view.attempts > 1) r.retried += 1;
    if (view.status === "failed") {
      r.failed += 1;
      sample(r.samples.failed, `${s.id}: ${view.error} (attempts ${view.attempts})`);
      continue;
    }
    r.completed += 1;
    if (paid === 0 || !view.result?.text?.includes(`[job:${s.marker}]`)) r.wrong += 1;
  }
  r.answersWhileRefused = [...refusals].map(([why, n]) => `${why.replace(/\s+/g, "_")}x${n}`).join(",");
  return r;
}

/** The one line per fault the suite prints. */
function summaryLine(r: FaultReport): string {
  const extra = Object.entries(r.extra)
    .map(([k, v]) => ` ${k}=${v}`)
    .join("");
  return (
    `fault=${r.fault} accepted=${r.accepted} completed=${r.completed} lost=${r.lost} failed=${r.failed} twice=${r.twice} provider_calls=${r.providerCalls}` +
    ` refused=${r.refused} retried=${r.retried} hidden_reruns=${r.hidden} wrong=${r.wrong}${extra}` +
    (r.answersWhileRefused ? ` while_refused=${r.answersWhileRefused}` : "")
  );
}

export interface Targets {
  /** Jobs that may be paid twice: those a dying worker had in flight. @default 0 */
  maxTwice?: number;
  /** Re-runs must show in the job's attempts (issue 8: a worker abandoning jobs at SIGTERM). @default false */
  rerunsVisible?: boolean;
  /** The fault is not the jobs' doing, so it spends none of their attempts (issue 8 items 4 and 5). @default false */
  attemptsUnchanged?: boolean;
}

/** Everything that misses the suite's targets, as sentences; empty when the fault was survived. */
export function missedTargets(r: FaultReport, targets: Targets = {}): string[] {
  const missed: string[] = [];
  if (r.accepted === 0) missed.push("no job was accepted: the load never ran");
  if (r.lost > 0) missed.push(`${r.lost} accepted jobs lost (never completed or failed), e.g. ${r.samples.lost.join(", ")}`);
  if (r.failed > 0) missed.push(`${r.failed} jobs failed, e.g. ${r.samples.failed.join(" | ")}`);
  if (r.refused > 0) missed.push(`${r.refused} submissions still refused long after the fault, e.g. ${r.samples.refused.join(" | ")}`);
  if (r.twice > (targets.maxTwice ?? 0))
    missed.push(`${r.twice} jobs paid twice (at most ${targets.maxTwice ?? 0} allowed), e.g. ${r.samples.twice.join(" | ")}`);
  if (targets.attemptsUnchanged && r.retried > 0) missed.push(`${r.retried} jobs spent attempts on a fault that was not theirs`);
  if (targets.rerunsVisible && r.hidden > 0) missed.push(`${r.hidden} jobs ran again without it showing in attempts`);
  if (r.wrong > 0) missed.push(`${r.wrong} completed jobs carry no answer of their own provider call`);
  return missed;
}

/** Runs a fault under a steady load: `fault` runs alongside it; then every accepted job is followed to its end. */
export async function underLoad(
  target: ApiTarget | (() => ApiTarget),
  ledger: ProviderLedger,
  options: LoadOptions & { settleMs?: number },
  fault: (load: SteadyLoad) => Promise<Record<string, number | string> | void>,
): Promise<FaultReport> {
  const load = new SteadyLoad(target, options);
  const faulted = fault(load).finally(() => load.faultOver());
  const [extra, submissions] = await Promise.all([faulted, load.done]);
  const final = await followJobs(target, submissions, options.settleMs ?? 60_000);
  const r = report(options.fault, submissions, final, ledger);
  r.extra = extra ?? {};
  // The suite's output: one line per fault, also when the targets are missed.
  console.log(summaryLine(r));
  return r;
}
