import type { Octokit } from "@octokit/rest";
import { z } from "zod";
import { SluiceError } from "../../../core/errors.ts";
import type { SluiceConfig } from "../../../core/config.ts";
import { defineAction } from "../define.ts";
import { notConfigured } from "./http.ts";

type GithubConfig = SluiceConfig["actions"]["github"];

const repo = z.string().regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, { error: "expected owner/name" });

const issueArgs = z.object({
  repo,
  title: z.string().min(1).max(256),
  body: z.string().max(65_536).optional(),
  labels: z.array(z.string().min(1).max(50)).max(100).optional(),
  assignees: z.array(z.string().min(1).max(39)).max(10).optional(),
});

const commentArgs = z.object({ repo, issue_number: z.number().int().positive(), body: z.string().min(1).max(65_536) });

/** A refused connection, 429 or a secondary rate limit certainly created nothing; other failures are final for the key. */
function translate(err: unknown): SluiceError {
  const e = err as { status?: number; message?: string; response?: { headers?: Record<string, string | undefined> } };
  const rateLimited = e.status === 429 || (e.status === 403 && e.response?.headers?.["x-ratelimit-remaining"] === "0");
  const cause = (err as { cause?: { code?: unknown } }).cause;
  const refused = e.status === undefined && (cause?.code === "ECONNREFUSED" || /ECONNREFUSED/.test(e.message ?? ""));
  return new SluiceError("ACTION_FAILED", `GitHub: ${e.status ?? ""} ${e.message ?? String(err)}`.trim().slice(0, 500), {
    retryable: rateLimited || refused,
    details: { status: e.status ?? null },
    cause: err,
  });
}

async function client(config: GithubConfig, action: string): Promise<Octokit> {
  if (!config.token) throw notConfigured(action, "ACTIONS_GITHUB_TOKEN");
  // Imported on the first call, not at every process start.
  const { Octokit } = await import("@octokit/rest");
  // Octokit's own retries would call again behind the ledger's back: none here, the ledger decides.
  return new Octokit({
    auth: config.token,
    baseUrl: config.baseUrl,
    log: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
  });
}

const split = (full: string) => {
  const [owner = "", name = ""] = full.split("/");
  return { owner, repo: name };
};

/** `github.issue.create` and `github.issue.comment` (@octokit/rest, ACTIONS_GITHUB_BASE_URL). */
export function githubActions(config: GithubConfig) {
  let octokit: Promise<Octokit> | undefined;
  const get = (action: string) => {
    octokit ??= client(config, action);
    // A failed creation (not configured) is tried again on the next call.
    octokit.catch(() => (octokit = undefined));
    return octokit;
  };
  const create = defineAction({
    name: "github.issue.create",
    description: "Open a GitHub issue",
    args: issueArgs,
    async execute(ctx, args) {
      try {
        const { data } = await (
          await get("github.issue.create")
        ).rest.issues.create({
          ...split(args.repo),
          title: args.title,
          ...(args.body === undefined ? {} : { body: args.body }),
          ...(args.labels ? { labels: args.labels } : {}),
          ...(args.assignees ? { assignees: args.assignees } : {}),
          request: { signal: ctx.signal },
        });
        return { number: data.number, url: data.html_url, id: data.id };
      } catch (err) {
        throw err instanceof SluiceError ? err : translate(err);
      }
    },
  });
  const comment = defineAction({
    name: "github.issue.comment",
    description: "Comment on a GitHub issue",
    args: commentArgs,
    async execute(ctx, args) {
      try {
        const { data } = await (
          await get("github.issue.comment")
        ).rest.issues.createComment({
          ...split(args.repo),
          issue_number: args.issue_number,
          body: args.body,
          request: { signal: ctx.signal },
        });
        return { id: data.id, url: data.html_url };
      } catch (err) {
        throw err instanceof SluiceError ? err : translate(err);
      }
    },
  });
  return { create, comment };
}
