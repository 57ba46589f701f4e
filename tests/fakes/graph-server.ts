import { startFakeRemote, type FakeRemote, type RecordedRequest, type Reply } from "./remote-api.ts";

/**
 * An API-compatible stand-in for Microsoft Graph's sendMail: POST /users/{id}/sendMail or
 * /me/sendMail with `{ message, saveToSentItems }` answers 202 with no body.
 */
interface GraphMessage {
  subject: string;
  body: { contentType: string; content: string };
  toRecipients: Array<{ emailAddress: { address: string } }>;
}

export interface FakeGraph extends FakeRemote {
  sent(): Array<{ user: string; message: GraphMessage }>;
}

export async function startFakeGraph(token: string): Promise<FakeGraph> {
  const sent: Array<{ user: string; message: GraphMessage }> = [];
  const route = (req: RecordedRequest): Reply => {
    const path = req.path.split("?")[0] ?? "";
    const match = /^\/(?:users\/([^/]+)|me)\/sendMail$/.exec(path);
    if (req.method !== "POST" || !match)
      return { status: 404, body: { error: { code: "ResourceNotFound", message: "Resource not found" } } };
    const message = (req.json as { message?: GraphMessage } | null)?.message;
    if (!message?.toRecipients?.length)
      return { status: 400, body: { error: { code: "ErrorInvalidRecipients", message: "At least one recipient is not valid." } } };
    sent.push({ user: match[1] ? decodeURIComponent(match[1]) : "me", message });
    return { status: 202 };
  };
  const remote = await startFakeRemote({ token, route });
  return Object.assign(remote, { sent: () => sent });
}
