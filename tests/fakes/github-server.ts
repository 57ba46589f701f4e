import { afterAll, beforeAll } from "vitest";
import { startFakeRemote, type FakeRemote, type RecordedRequest, type Reply } from "./remote-api.ts";

/**
 * An API-compatible stand-in for GitHub's REST API (the part the actions use):
 * POST /repos/{owner}/{repo}/issues -> 201 with number and html_url, and
 * POST /repos/{owner}/{repo}/issues/{number}/comments -> 201.
 */
export interface FakeGithub extends FakeRemote {
  /** Issues created, in order. */
  issues(): Array<{ repo: string; number: number; title: string; body: string | null; labels: string[] }>;
  comments(): Array<{ repo: string; issue_number: number; body: string }>;
}

export async function startFakeGithub(token: string): Promise<FakeGithub> {
  const issues: ReturnType<FakeGithub["issues"]> = [];
  const comments: ReturnType<FakeGithub["comments"]> = [];
  const route = (req: RecordedRequest): Reply => {
    const path = req.path.split("?")[0] ?? "";
    const issue = /^\/repos\/([^/]+)\/([^/]+)\/issues$/.exec(path);
    const comment = /^\/repos\/([^/]+)\/([^/]+)\/issues\/(\d+)\/comments$/.exec(path);
    const body = (req.json ?? {}) as { title?: string; body?: string; labels?: string[] };
    if (req.method === "POST" && issue) {
      if (!body.title) return { status: 422, body: { message: "Validation Failed", errors: [{ field: "title", code: "missing_field" }] } };
      const repo = `${issue[1]}/${issue[2]}`;
      const number = issues.filter((i) => i.repo === repo).length + 1;
      issues.push({ repo, number, title: body.title, body: body.body ?? null, labels: body.labels ?? [] });
      return {
        status: 201,
        body: {
          id: 1000 + issues.length,
          number,
          title: body.title,
          html_url: `https://github.example/${repo}/issues/${number}`,
          state: "open",
        },
      };
    }
    if (req.method === "POST" && comment) {
      const repo = `${comment[1]}/${comment[2]}`;
      const issueNumber = Number(comment[3]);
      if (!issues.some((i) => i.repo === repo && i.number === issueNumber)) return { status: 404, body: { message: "Not Found" } };
      comments.push({ repo, issue_number: issueNumber, body: body.body ?? "" });
      return {
        status: 201,
        body: {
          id: 5000 + comments.length,
          html_url: `https://github.example/${repo}/issues/${issueNumber}#issuecomment-${5000 + comments.length}`,
          body: body.body,
        },
      };
    }
    return { status: 404, body: { message: "Not Found" } };
  };
  const remote = await startFakeRemote({ token, route });
  return Object.assign(remote, { issues: () => issues, comments: () => comments });
}

/**
 * A fake GitHub of the enclosing suite's own, started before its tests and closed after them: its
 * calls are held and counted for that suite alone, so suites that each have one can run at once.
 */
export function suiteFakeGithub(token: string): () => FakeGithub {
  let github: FakeGithub | undefined;
  beforeAll(async () => {
    github = await startFakeGithub(token);
  });
  afterAll(async () => {
    await github?.close();
  });
  return () => github!;
}
