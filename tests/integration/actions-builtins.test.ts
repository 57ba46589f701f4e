import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/adapters/log/pino.ts";
import type { ActionRequest } from "../../src/pipeline/runs/contracts.ts";
import { verifySignature } from "../../src/pipeline/webhooks/signature.ts";
import { isSluiceError } from "../../src/core/errors.ts";
import { startFakeGithub, type FakeGithub } from "../fakes/github-server.ts";
import { startFakeGmail, type FakeGmail } from "../fakes/gmail-server.ts";
import { startFakeGraph, type FakeGraph } from "../fakes/graph-server.ts";
import { startTestSmtpServer, type TestSmtpServer } from "../fakes/smtp-server.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";

/**
 * The built-in actions against their services: a real SMTP server on loopback (smtp-server) for
 * email.send, and API-compatible test servers for the Gmail API, Microsoft Graph and GitHub.
 * Tokens go to the services and never into a log line.
 */

const WS = "ws-builtins";
const TOKENS = {
  gmail: "ya29.gmail-secret-token",
  graph: "eyJ0eXAi.graph-secret-token",
  github: "ghp_github_secret_token",
  webhook: "whsec_0123456789abcdef",
};

let t: TestSluice;
let smtp: TestSmtpServer;
let gmail: FakeGmail;
let graph: FakeGraph;
let github: FakeGithub;
let receiver: Server;
let receiverUrl: string;
const received: Array<{ body: string; signature: string | undefined; idempotencyKey: string | undefined }> = [];
let logText = "";

const execute = (action: string, args: unknown, key: string) =>
  t.sluice.actions.executor.execute({ workspace: WS, action, args, idempotencyKey: key, actor: "library" } satisfies ActionRequest);

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    if (isSluiceError(err)) return err.code;
    throw err;
  }
  return "resolved";
}

beforeAll(async () => {
  [smtp, gmail, graph, github] = await Promise.all([
    startTestSmtpServer(),
    startFakeGmail(TOKENS.gmail),
    startFakeGraph(TOKENS.graph),
    startFakeGithub(TOKENS.github),
  ]);
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({
        body: Buffer.concat(chunks).toString("utf8"),
        signature: req.headers["sluice-signature"] as string | undefined,
        idempotencyKey: req.headers["idempotency-key"] as string | undefined,
      });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  const sink = new Writable({ write: (chunk: Buffer, _enc, done) => ((logText += chunk.toString()), done()) });
  t = await startTestSluice(
    {
      ACTIONS_ENABLED: "true",
      ALLOW_ACTIONS_DEFAULT: "*",
      ACTIONS_SMTP_URL: smtp.url,
      ACTIONS_EMAIL_FROM: "sluice@example.com",
      ACTIONS_GMAIL_BASE_URL: gmail.url,
      ACTIONS_GMAIL_TOKEN: TOKENS.gmail,
      ACTIONS_GRAPH_BASE_URL: graph.url,
      ACTIONS_GRAPH_TOKEN: TOKENS.graph,
      ACTIONS_GRAPH_USER: "ops@example.com",
      ACTIONS_GITHUB_BASE_URL: github.url,
      ACTIONS_GITHUB_TOKEN: TOKENS.github,
      ACTIONS_WEBHOOK_SECRET: TOKENS.webhook,
      ACTIONS_WEBHOOK_ALLOWED_URLS: receiverUrl,
    },
    { logger: createLogger({ level: "debug", destination: sink }) },
  );
  await t.sluice.intake.ensureWorkspace(WS, "Builtins");
});

afterAll(async () => {
  await t?.close();
  await Promise.all([smtp?.close(), gmail?.close(), graph?.close(), github?.close(), new Promise((r) => receiver?.close(r))]);
});

describe("email.send over a real SMTP server", () => {
  it("delivers the message with a Message-ID derived from the execution", async () => {
    const outcome = await execute("email.send", { to: "ana@example.com", subject: "Weekly report", text: "All green." }, "mail-1");
    expect(outcome).toMatchObject({ status: "succeeded", result: { accepted: ["ana@example.com"] } });
    expect(smtp.messages).toHaveLength(1);
    expect(smtp.messages[0]).toMatchObject({ from: "sluice@example.com", to: ["ana@example.com"] });
    expect(smtp.messages[0]!.raw).toContain("Subject: Weekly report");
    expect(smtp.messages[0]!.raw).toContain(`Message-ID: <${outcome.executionId}@sluice.actions>`);
  });

  it("a 4xx reply is retryable on the same key; a 5xx is final", async () => {
    smtp.refuseNext(1, 451);
    expect(await execute("email.send", { to: "bo@example.com", subject: "Hi", text: "x" }, "mail-451")).toMatchObject({
      status: "failed",
      retryable: true,
    });
    expect(await execute("email.send", { to: "bo@example.com", subject: "Hi", text: "x" }, "mail-451")).toMatchObject({
      status: "succeeded",
    });
    smtp.refuseNext(1, 550);
    expect(await execute("email.send", { to: "cy@example.com", subject: "Hi", text: "x" }, "mail-550")).toMatchObject({
      status: "failed",
      retryable: false,
    });
    expect(await execute("email.send", { to: "cy@example.com", subject: "Hi", text: "x" }, "mail-550")).toMatchObject({ status: "failed" });
    expect(smtp.messages.filter((m) => m.to.includes("cy@example.com"))).toHaveLength(0);
    expect(smtp.messages.filter((m) => m.to.includes("bo@example.com"))).toHaveLength(1);
  });

  it("bad arguments never reach the server", async () => {
    expect(await codeOf(execute("email.send", { to: "not-an-address", subject: "x", text: "y" }, "mail-bad"))).toBe("ACTION_ARGS_INVALID");
    expect(await codeOf(execute("email.send", { to: "a@example.com", subject: "no body" }, "mail-bad2"))).toBe("ACTION_ARGS_INVALID");
  });
});

describe("gmail.send and outlook.send against API-compatible servers", () => {
  it("gmail.send posts the RFC 2822 message base64url-encoded to users.messages.send", async () => {
    const outcome = await execute(
      "gmail.send",
      { to: ["ana@example.com", "bo@example.com"], subject: "Invoice 42", html: "<p>Paid</p>", from: "billing@example.com" },
      "gmail-1",
    );
    expect(outcome).toMatchObject({ status: "succeeded", result: { id: "msg-1", thread_id: "thread-1" } });
    const [sent] = gmail.sent();
    expect(sent!.userId).toBe("me");
    expect(sent!.message).toContain("Subject: Invoice 42");
    expect(sent!.message).toMatch(/To: ana@example.com, bo@example.com/);
    expect(gmail.requests[0]!.headers.authorization).toBe(`Bearer ${TOKENS.gmail}`);
  });

  it("outlook.send posts a Graph message to /users/{id}/sendMail and takes the 202", async () => {
    const outcome = await execute(
      "outlook.send",
      { to: "ana@example.com", cc: "bo@example.com", subject: "Meeting", text: "At 3" },
      "outlook-1",
    );
    expect(outcome).toMatchObject({ status: "succeeded", result: { status: 202 } });
    expect(graph.sent()).toEqual([
      {
        user: "ops@example.com",
        message: expect.objectContaining({
          subject: "Meeting",
          body: { contentType: "Text", content: "At 3" },
          toRecipients: [{ emailAddress: { address: "ana@example.com" } }],
        }),
      },
    ]);
  });

  it("a 503 from the service is retryable on the key; a 401 is final", async () => {
    graph.failNext(1, { status: 503, body: { error: { code: "ServiceUnavailable" } } });
    expect(await execute("outlook.send", { to: "x@example.com", subject: "s", text: "t" }, "outlook-503")).toMatchObject({
      status: "failed",
      retryable: true,
    });
    expect(await execute("outlook.send", { to: "x@example.com", subject: "s", text: "t" }, "outlook-503")).toMatchObject({
      status: "succeeded",
    });
    gmail.failNext(1, { status: 401, body: { error: { code: 401 } } });
    expect(await execute("gmail.send", { to: "x@example.com", subject: "s", text: "t" }, "gmail-401")).toMatchObject({
      status: "failed",
      retryable: false,
      error: { code: "ACTION_FAILED" },
    });
  });
});

describe("github.issue.create and github.issue.comment through @octokit/rest", () => {
  it("opens an issue and comments on it", async () => {
    const created = await execute(
      "github.issue.create",
      { repo: "acme/app", title: "Crash on login", body: "Steps...", labels: ["bug"] },
      "gh-1",
    );
    expect(created).toMatchObject({ status: "succeeded", result: { number: 1, url: "https://github.example/acme/app/issues/1" } });
    const commented = await execute("github.issue.comment", { repo: "acme/app", issue_number: 1, body: "Duplicate of #0?" }, "gh-2");
    expect(commented).toMatchObject({ status: "succeeded" });
    expect(github.issues()).toEqual([{ repo: "acme/app", number: 1, title: "Crash on login", body: "Steps...", labels: ["bug"] }]);
    expect(github.comments()).toEqual([{ repo: "acme/app", issue_number: 1, body: "Duplicate of #0?" }]);
    expect(github.requests[0]!.headers.authorization).toBe(`token ${TOKENS.github}`);
  });

  it("a 404 is a final failure", async () => {
    expect(await execute("github.issue.comment", { repo: "acme/app", issue_number: 99, body: "x" }, "gh-404")).toMatchObject({
      status: "failed",
      retryable: false,
    });
  });
});

describe("webhook.post", () => {
  it("posts a body signed with ACTIONS_WEBHOOK_SECRET, with the execution id as idempotency key", async () => {
    const outcome = await execute("webhook.post", { url: `${receiverUrl}/hook`, body: { event: "lead.qualified", id: 7 } }, "hook-1");
    expect(outcome).toMatchObject({ status: "succeeded", result: { status: 204 } });
    expect(received).toHaveLength(1);
    expect(JSON.parse(received[0]!.body)).toEqual({ event: "lead.qualified", id: 7 });
    expect(verifySignature(TOKENS.webhook, received[0]!.body, received[0]!.signature)).toMatchObject({ ok: true });
    expect(received[0]!.idempotencyKey).toBe(outcome.executionId);
  });

  it("refuses a URL outside ACTIONS_WEBHOOK_ALLOWED_URLS before any call", async () => {
    expect(await codeOf(execute("webhook.post", { url: "http://169.254.169.254/latest", body: {} }, "hook-2"))).toBe("ACTION_ARGS_INVALID");
    expect(received).toHaveLength(1);
  });
});

describe("secrets", () => {
  it("no token reaches the log, and an unconfigured service is ACTION_NOT_CONFIGURED", async () => {
    const bare = await startTestSluice({ ACTIONS_ENABLED: "true", ALLOW_ACTIONS_DEFAULT: "*" });
    try {
      await bare.sluice.intake.ensureWorkspace(WS, "Bare");
      const outcome = await bare.sluice.actions.executor.execute({
        workspace: WS,
        action: "gmail.send",
        args: { to: "a@example.com", subject: "s", text: "t" },
        idempotencyKey: "k",
        actor: "library",
      });
      expect(outcome).toMatchObject({ status: "failed", error: { code: "ACTION_NOT_CONFIGURED" } });
    } finally {
      await bare.close();
    }
    t.sluice.logger.info({ config: t.sluice.config }, "config dump for the redaction check");
    expect(logText.length).toBeGreaterThan(0);
    for (const secret of Object.values(TOKENS)) expect(logText).not.toContain(secret);
    expect(logText).not.toContain("secret-pass");
  });
});
