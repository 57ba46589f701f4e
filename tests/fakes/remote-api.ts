import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

/**
 * The base of the API-compatible test servers for remote services (Gmail, Microsoft Graph,
 * GitHub): it records every request, checks the bearer token, and can hold chosen requests open
 * without ever answering (a call in flight when its caller is killed).
 */
export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  body: string;
  json: unknown;
}

export interface Reply {
  status: number;
  body?: unknown;
}

export interface FakeRemote {
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** Requests for which this returns true get no answer until the server closes. */
  holdWhen(predicate: ((request: RecordedRequest, index: number) => boolean) | undefined): void;
  /** Answers the next `count` requests with `reply` instead of the API's own (e.g. a 503 or 429). */
  failNext(count: number, reply: Reply): void;
  close(): Promise<void>;
}

export interface FakeRemoteOptions {
  /** The token the API accepts (`Authorization: Bearer <token>` or `token <token>`). */
  token: string;
  route(request: RecordedRequest): Reply;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function send(res: ServerResponse, reply: Reply): void {
  if (reply.body === undefined) {
    res.writeHead(reply.status).end();
    return;
  }
  res.writeHead(reply.status, { "content-type": "application/json" }).end(JSON.stringify(reply.body));
}

export async function startFakeRemote(options: FakeRemoteOptions): Promise<FakeRemote> {
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  let hold: ((request: RecordedRequest, index: number) => boolean) | undefined;
  let failures: { count: number; reply: Reply } | undefined;

  const server = createServer((req, res) => {
    void readBody(req).then((body) => {
      let json: unknown = null;
      try {
        json = body ? JSON.parse(body) : null;
      } catch {
        json = null;
      }
      const recorded: RecordedRequest = { method: req.method ?? "", path: req.url ?? "", headers: req.headers, body, json };
      const index = requests.push(recorded) - 1;
      const auth = /^(?:Bearer|token)\s+(\S+)$/i.exec(req.headers.authorization ?? "")?.[1];
      if (auth !== options.token) return send(res, { status: 401, body: { error: { code: 401, message: "Invalid Credentials" } } });
      if (hold?.(recorded, index)) return; // never answered
      if (failures && failures.count > 0) {
        failures.count -= 1;
        return send(res, failures.reply);
      }
      send(res, options.route(recorded));
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    holdWhen(predicate) {
      hold = predicate;
    },
    failNext(count, reply) {
      failures = { count, reply };
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
