import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** A row of GET /api/webhooks/deliveries. */
export interface Delivery {
  id: string;
  event: string;
  subject: string;
  target: string;
  status: string;
  attempts: number;
  last_status_code: number | null;
  last_error: string | null;
}

/** One request a receiver got: the raw body (what a signature covers), its headers, and the status it answered. */
export interface Received {
  body: string;
  signature: string | undefined;
  deliveryId: string | undefined;
  answered: number;
}

/** A callback receiver on loopback (a real HTTP server) that answers 500 to the first `failFirst` requests of each path, then 200. */
export async function startReceiver(): Promise<{
  url: string;
  received: Map<string, Received[]>;
  failFirst: Map<string, number>;
  close(): Promise<void>;
}> {
  const received = new Map<string, Received[]>();
  const failFirst = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
    req.on("end", () => {
      const path = req.url ?? "/";
      const seen = received.get(path) ?? [];
      const answered = seen.length < (failFirst.get(path) ?? 0) ? 500 : 200;
      const signature = req.headers["sluice-signature"];
      const deliveryId = req.headers["sluice-delivery-id"];
      seen.push({
        body,
        signature: typeof signature === "string" ? signature : undefined,
        deliveryId: typeof deliveryId === "string" ? deliveryId : undefined,
        answered,
      });
      received.set(path, seen);
      res.writeHead(answered).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, received, failFirst, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
