import { startFakeRemote, type FakeRemote, type RecordedRequest, type Reply } from "./remote-api.ts";

/**
 * An API-compatible stand-in for the Gmail API's users.messages.send:
 * POST /gmail/v1/users/{userId}/messages/send with `{ raw }` (an RFC 2822 message, base64url)
 * answers 200 `{ id, threadId, labelIds: ["SENT"] }`.
 */
export interface FakeGmail extends FakeRemote {
  /** Messages sent: the user id and the decoded RFC 2822 text. */
  sent(): Array<{ userId: string; message: string }>;
}

export async function startFakeGmail(token: string): Promise<FakeGmail> {
  const sent: Array<{ userId: string; message: string }> = [];
  const route = (req: RecordedRequest): Reply => {
    const match = /^\/gmail\/v1\/users\/([^/]+)\/messages\/send$/.exec(req.path.split("?")[0] ?? "");
    if (req.method !== "POST" || !match) return { status: 404, body: { error: { code: 404, message: "Not Found" } } };
    const raw = (req.json as { raw?: unknown } | null)?.raw;
    if (typeof raw !== "string" || !/^[A-Za-z0-9_-]+={0,2}$/.test(raw))
      return { status: 400, body: { error: { code: 400, message: "Invalid value for ByteString" } } };
    sent.push({ userId: decodeURIComponent(match[1] ?? ""), message: Buffer.from(raw, "base64url").toString("utf8") });
    return { status: 200, body: { id: `msg-${sent.length}`, threadId: `thread-${sent.length}`, labelIds: ["SENT"] } };
  };
  const remote = await startFakeRemote({ token, route });
  return Object.assign(remote, { sent: () => sent });
}
