import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { argsHash } from "../../src/pipeline/actions/executor.ts";
import { runCliAsync } from "../harness/cli.ts";
import { startTestSluice, type TestSluice } from "../harness/sluice.ts";

/**
 * The actions API and CLI on the embedded default, with seed 001's allowlist verbatim
 * (ALLOW_ACTIONS_DEFAULT=gmail.send,outlook.send,task.create) and its kill switch driven the way
 * docs/runbook.md says: `sluice flags set actions.enabled ...`, `sluice actions allow ...`.
 */

let t: TestSluice;
let url: string;
let operator: string;
let admin: string;
let reader: string;
let otherAdmin: string;

const auth = (key: string) => ({ authorization: `Bearer ${key}` });
const cli = (args: string[], key = operator) => runCliAsync(args, { SLUICE_URL: url, SLUICE_API_KEY: key });
const execute = (name: string, payload: object, key = admin) =>
  t.app.inject({ method: "POST", url: `/api/actions/${name}/execute`, headers: auth(key), payload });

beforeAll(async () => {
  t = await startTestSluice({ ALLOW_ACTIONS_DEFAULT: "gmail.send,outlook.send,task.create", FLAGS_CACHE_MS: "0", ACTIONS_LEASE_MS: "500" });
  await t.app.listen({ port: 0, host: "127.0.0.1" });
  url = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
  const { intake } = t.sluice;
  for (const ws of ["ws-ops", "ws-a", "ws-b"]) await intake.ensureWorkspace(ws, ws);
  operator = (await intake.createApiKey({ workspaceId: "ws-ops", scopes: ["operator"] })).secret;
  admin = (await intake.createApiKey({ workspaceId: "ws-a", scopes: ["admin"] })).secret;
  reader = (await intake.createApiKey({ workspaceId: "ws-a", scopes: ["jobs:read"] })).secret;
  otherAdmin = (await intake.createApiKey({ workspaceId: "ws-b", scopes: ["admin"] })).secret;
});
afterAll(async () => t?.close());

describe("actions API and CLI", () => {
  it("lists the registry with the workspace's effective policy; ACTIONS_ENABLED defaults to off", async () => {
    const res = await t.app.inject({ method: "GET", url: "/api/actions", headers: auth(reader) });
    expect(res.statusCode).toBe(200);
    const body = res.json<{
      enabled: boolean;
      allowed_actions: string[];
      actions: Array<{ name: string; allowed: boolean; refusal: string | null }>;
    }>();
    expect(body).toMatchObject({ enabled: false, allowed_actions: ["gmail.send", "outlook.send", "task.create"] });
    expect(body.actions.map((a) => a.name)).toEqual([
      "email.send",
      "github.issue.comment",
      "github.issue.create",
      "gmail.send",
      "outlook.send",
      "task.create",
      "webhook.post",
    ]);
    expect(body.actions.every((a) => !a.allowed && a.refusal === "ACTIONS_DISABLED")).toBe(true);
    expect((await execute("task.create", { args: { title: "x" }, idempotency_key: "off-1" })).json()).toMatchObject({
      error: { code: "ACTIONS_DISABLED" },
    });
  });

  it("the kill switch turns on and off at run time through `sluice flags set actions.enabled`", async () => {
    const on = await cli(["flags", "set", "actions.enabled", "true", "--reason", "go live"]);
    expect(on.status, on.stderr).toBe(0);
    const created = await execute("task.create", { args: { title: "Follow up with ACME" }, idempotency_key: "task-1" });
    expect(created.statusCode).toBe(200);
    const first = created.json<{ execution_id: string; status: string; result: { task_id: string } }>();
    expect(first).toMatchObject({ status: "succeeded", result: { title: "Follow up with ACME" } });
    const again = await execute("task.create", { args: { title: "Follow up with ACME" }, idempotency_key: "task-1" });
    expect(again.json()).toEqual(first);

    const off = await cli(["flags", "set", "actions.enabled", "false", "--reason", "incident 42"]);
    expect(off.status, off.stderr).toBe(0);
    const refused = await execute("task.create", { args: { title: "y" }, idempotency_key: "task-2" });
    expect(refused.statusCode).toBe(503);
    expect(refused.json()).toMatchObject({ error: { code: "ACTIONS_DISABLED" } });
    expect((await cli(["flags", "set", "actions.enabled", "true", "--reason", "incident over"])).status).toBe(0);
  });

  it("refuses bad input with stable 4xx codes", async () => {
    expect((await execute("task.create", { args: { title: "x" }, idempotency_key: "r-1" }, reader)).statusCode).toBe(403);
    const cases: Array<[string, object, number, string]> = [
      ["no.such", { args: {}, idempotency_key: "r-2" }, 404, "ACTION_UNKNOWN"],
      ["task.create", { args: { title: "" }, idempotency_key: "r-3" }, 400, "ACTION_ARGS_INVALID"],
      ["github.issue.create", { args: { repo: "a/b", title: "t" }, idempotency_key: "r-4" }, 403, "ACTION_NOT_ALLOWED"],
      ["task.create", { args: { title: "x" } }, 400, "VALIDATION_FAILED"],
      ["task.create", { args: { title: "other" }, idempotency_key: "task-1" }, 409, "ACTION_KEY_REUSED"],
    ];
    for (const [name, payload, status, code] of cases) {
      const res = await execute(name, payload);
      expect(res.statusCode, `${name} ${JSON.stringify(payload)}`).toBe(status);
      expect(res.json()).toMatchObject({ error: { code } });
    }
  });

  it("`sluice actions allow` sets a workspace's own allowlist (PATCH allowed_actions) and --default removes it", async () => {
    const allow = await cli(["actions", "allow", "ws-a", "github.issue.create", "--reason", "triage bot"]);
    expect(allow.status, allow.stderr).toBe(0);
    expect(allow.stdout).toContain("allowlist (workspace): github.issue.create");
    expect((await execute("task.create", { args: { title: "z" }, idempotency_key: "allow-1" })).json()).toMatchObject({
      error: { code: "ACTION_NOT_ALLOWED" },
    });
    const list = await cli(["actions", "list"], admin);
    expect(list.stdout).toMatch(/github\.issue\.create\s+true/);
    expect(list.stdout).toMatch(/task\.create\s+false\s+ACTION_NOT_ALLOWED/);
    const bad = await t.app.inject({
      method: "PATCH",
      url: "/api/workspaces/ws-a",
      headers: auth(operator),
      payload: { allowed_actions: ["Not An Action"] },
    });
    expect(bad.statusCode).toBe(400);
    expect(
      (await t.app.inject({ method: "PATCH", url: "/api/workspaces/ws-a", headers: auth(admin), payload: { allowed_actions: ["*"] } }))
        .statusCode,
    ).toBe(403);
    expect((await cli(["actions", "allow", "ws-a", "--default"])).status).toBe(0);
    expect((await execute("task.create", { args: { title: "z" }, idempotency_key: "allow-2" })).statusCode).toBe(200);
    const audit = await t.sluice.audit.list({ workspaceId: "ws-a", action: "workspace.update" });
    expect(audit.some((r) => JSON.stringify(r.details.allowed_actions) === JSON.stringify(["github.issue.create"]))).toBe(true);
  });

  it("the ledger and the actions' audit trail are readable per workspace, by API and CLI", async () => {
    const res = await t.app.inject({ method: "GET", url: "/api/actions/executions?action=task.create", headers: auth(admin) });
    const executions = res.json<{ executions: Array<{ idempotency_key: string; status: string; workspace: string }> }>().executions;
    expect(executions.map((e) => e.idempotency_key).sort()).toEqual(["allow-2", "task-1"]);
    expect(executions.every((e) => e.workspace === "ws-a" && e.status === "succeeded")).toBe(true);
    expect(
      (await t.app.inject({ method: "GET", url: "/api/actions/executions?workspace=ws-a", headers: auth(otherAdmin) })).statusCode,
    ).toBe(404);
    const cliRows = await cli(["actions", "executions", "--workspace", "ws-a"]);
    expect(cliRows.status, cliRows.stderr).toBe(0);
    expect(cliRows.stdout).toMatch(/task\.create\s+task-1\s+succeeded/);
    const audit = (await t.app.inject({ method: "GET", url: "/api/audit/actions", headers: auth(admin) })).json<{
      entries: Array<{ action: string; details: { code?: string } }>;
    }>().entries;
    expect(new Set(audit.map((e) => e.action))).toEqual(new Set(["action.execute", "action.refused"]));
    expect(audit.filter((e) => e.action === "action.refused").map((e) => e.details.code)).toContain("ACTIONS_DISABLED");
  });

  it("an unknown outcome answers 202 with its approval task, and `sluice actions resolve` settles it", async () => {
    await t.sluice.store.query(
      `INSERT INTO action_executions (workspace_id, action, idempotency_key, args_hash, args, status, actor, heartbeat_at)
       VALUES ('ws-a', 'task.create', 'cut-off', $1, $2::jsonb, 'started', 'key:x', now() - interval '1 minute')`,
      [argsHash({ title: "cut" }), JSON.stringify({ title: "cut" })],
    );
    // task.create declares itself idempotent: a call cut off is simply run again.
    expect((await execute("task.create", { args: { title: "cut" }, idempotency_key: "cut-off" })).json()).toMatchObject({
      status: "succeeded",
    });

    await t.sluice.store.query(
      `INSERT INTO action_executions (workspace_id, action, idempotency_key, args_hash, args, status, actor, heartbeat_at)
       VALUES ('ws-a', 'gmail.send', 'mail-cut', $1, $2::jsonb, 'started', 'key:x', now() - interval '1 minute')`,
      [argsHash({ to: "a@example.com", subject: "s", text: "t" }), JSON.stringify({ to: "a@example.com", subject: "s", text: "t" })],
    );
    const unknown = await execute("gmail.send", { args: { to: "a@example.com", subject: "s", text: "t" }, idempotency_key: "mail-cut" });
    expect(unknown.statusCode).toBe(202);
    const body = unknown.json<{ execution_id: string; status: string; approval_id: string }>();
    expect(body).toMatchObject({ status: "unknown" });
    expect(body.approval_id).toBeTruthy();
    const resolved = await cli(["actions", "resolve", body.execution_id, "--resolution", "skip", "--reason", "the mail went out"], admin);
    expect(resolved.status, resolved.stderr).toBe(0);
    expect(resolved.stdout).toMatch(/failed\s+skip/);
    const after = await execute("gmail.send", { args: { to: "a@example.com", subject: "s", text: "t" }, idempotency_key: "mail-cut" });
    expect(after.json()).toMatchObject({ status: "failed", error: { code: "ACTION_SKIPPED" } });
    const twice = await t.app.inject({
      method: "POST",
      url: `/api/actions/executions/${body.execution_id}/resolve`,
      headers: auth(admin),
      payload: { resolution: "retry", reason: "again" },
    });
    expect(twice.statusCode).toBe(409);
    expect(
      (
        await t.app.inject({
          method: "POST",
          url: `/api/actions/executions/${body.execution_id}/resolve`,
          headers: auth(otherAdmin),
          payload: { resolution: "retry", reason: "x" },
        })
      ).statusCode,
    ).toBe(404);
  });
});
