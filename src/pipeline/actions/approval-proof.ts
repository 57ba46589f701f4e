import { SluiceError } from "../../core/errors.ts";
import { argsHash } from "./executor.ts";

/** What the check reads of an approval task (the approvals module's JSON view). */
export interface ApprovalTaskFacts {
  workspace: string;
  approval_type: string;
  status: string;
  payload: unknown;
  decided_by: string | null;
}

/** The approval type of a person's sign-off on one action call (the same one `step.action` opens). */
const ACTION_APPROVAL_TYPE = "action";

/**
 * Who approved this call, read from a decided approval task — never from the client: the task must
 * be in the caller's workspace, approved, of type `action`, for this action and these very
 * arguments (by hash). Anything else is APPROVAL_INVALID (400).
 */
export function approverFrom(
  task: ApprovalTaskFacts | undefined,
  call: { workspace: string; action: string; args: unknown; approvalId: string },
): string {
  const refuse = (why: string) =>
    new SluiceError("APPROVAL_INVALID", `Approval ${call.approvalId} does not approve this call: ${why}`, {
      details: { approval_id: call.approvalId },
    });
  if (!task || task.workspace !== call.workspace) throw refuse("no such approval task in this workspace");
  if (task.approval_type !== ACTION_APPROVAL_TYPE) throw refuse(`its type is "${task.approval_type}", not "${ACTION_APPROVAL_TYPE}"`);
  if (task.status !== "approved") throw refuse(`it is ${task.status}`);
  const payload = (task.payload ?? {}) as { action?: unknown; args?: unknown };
  if (payload.action !== call.action) throw refuse("it is for another action");
  if (argsHash(payload.args ?? null) !== argsHash(call.args ?? null)) throw refuse("it is for other arguments");
  return task.decided_by ?? `approval:${call.approvalId}`;
}
