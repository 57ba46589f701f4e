import { fakeVector, tokensOf } from "./content.ts";
import { HttpError, sendJson, type FakeRoute } from "./http.ts";
import type { FakeState } from "./state.ts";

/**
 * OpenAI's Files and Batches endpoints for the fake provider server (register with
 * `server.addRoutes(batches.routes)`): POST /v1/files (multipart upload), POST /v1/batches,
 * GET /v1/batches/{id}, GET /v1/files/{id}/content. Embedding batches only (`/v1/embeddings` lines).
 *
 * What a new batch does is set with `behave()`: complete after N polls, fail, expire, or never finish
 * (a stuck batch). `failLines()` makes chosen `custom_id`s answer 400 in the error file.
 */
type BatchBehaviour =
  | { kind: "complete"; afterPolls?: number }
  | { kind: "fail"; message?: string }
  | { kind: "expire"; afterPolls?: number }
  | { kind: "stuck" };

interface FakeFile {
  id: string;
  purpose: string;
  filename: string;
  content: string;
  createdAt: number;
}

interface FakeBatch {
  id: string;
  inputFileId: string;
  behaviour: BatchBehaviour;
  polls: number;
  status: string;
  createdAt: number;
  metadata: Record<string, string>;
  outputFileId: string | null;
  errorFileId: string | null;
  total: number;
  completed: number;
  failed: number;
}

export interface FakeBatches {
  readonly routes: FakeRoute[];
  /** How batches created from now on behave. @default complete after 1 poll */
  behave(behaviour: BatchBehaviour): void;
  /** Lines with these custom_ids answer 400 (in the error file). */
  failLines(customIds: readonly string[]): void;
  readonly files: ReadonlyMap<string, FakeFile>;
  readonly batches: ReadonlyMap<string, FakeBatch>;
  /** Requests per endpoint: uploads, creates, polls, downloads. */
  readonly counts: { uploads: number; creates: number; polls: number; downloads: number };
}

/** The part named `file` of a multipart/form-data body, and the `purpose` field. */
function parseMultipart(body: string, contentType: string): { content: string; filename: string; purpose: string } {
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/.exec(contentType);
  const marker = boundary?.[1] ?? boundary?.[2];
  if (!marker) throw new HttpError(400, "multipart body without a boundary");
  const fields = new Map<string, { value: string; filename?: string }>();
  for (const part of body.split(`--${marker}`)) {
    const split = part.indexOf("\r\n\r\n");
    if (split < 0) continue;
    const headers = part.slice(0, split);
    const name = /name="([^"]+)"/.exec(headers)?.[1];
    if (!name) continue;
    const filename = /filename="([^"]*)"/.exec(headers)?.[1];
    fields.set(name, { value: part.slice(split + 4).replace(/\r\n$/, ""), ...(filename !== undefined ? { filename } : {}) });
  }
  const file = fields.get("file");
  if (!file) throw new HttpError(400, "file: required");
  return { content: file.value, filename: file.filename ?? "upload", purpose: fields.get("purpose")?.value ?? "" };
}

interface InputLine {
  custom_id: string;
  body: { model?: string; input?: unknown; dimensions?: number };
}

function parseInput(content: string): InputLine[] {
  return content
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => {
      const line = JSON.parse(l) as Partial<InputLine> & { url?: string };
      if (typeof line.custom_id !== "string" || line.url !== "/v1/embeddings" || !line.body)
        throw new HttpError(400, "each line needs custom_id, url /v1/embeddings and body");
      return line as InputLine;
    });
}

export function createFakeBatches(state: FakeState): FakeBatches {
  const files = new Map<string, FakeFile>();
  const batches = new Map<string, FakeBatch>();
  const failing = new Set<string>();
  const counts = { uploads: 0, creates: 0, polls: 0, downloads: 0 };
  let behaviour: BatchBehaviour = { kind: "complete", afterPolls: 1 };
  let seq = 0;

  const addFile = (purpose: string, filename: string, content: string): FakeFile => {
    const file = { id: `file-fake${++seq}`, purpose, filename, content, createdAt: Math.floor(Date.now() / 1000) };
    files.set(file.id, file);
    return file;
  };
  const fileObject = (f: FakeFile) => ({
    id: f.id,
    object: "file",
    bytes: Buffer.byteLength(f.content),
    created_at: f.createdAt,
    filename: f.filename,
    purpose: f.purpose,
    status: "processed",
  });
  const batchObject = (b: FakeBatch) => ({
    id: b.id,
    object: "batch",
    endpoint: "/v1/embeddings",
    errors:
      b.status === "failed"
        ? {
            object: "list",
            data: [{ code: "fake_failure", message: (b.behaviour as { message?: string }).message ?? "the fake failed this batch" }],
          }
        : null,
    input_file_id: b.inputFileId,
    completion_window: "24h",
    status: b.status,
    output_file_id: b.outputFileId,
    error_file_id: b.errorFileId,
    created_at: b.createdAt,
    request_counts: { total: b.total, completed: b.completed, failed: b.failed },
    metadata: b.metadata,
  });

  /** Runs every line of the input: vectors for the good ones, 400s for the failing ones. */
  function finish(batch: FakeBatch): void {
    const output: string[] = [];
    const errors: string[] = [];
    for (const line of parseInput(files.get(batch.inputFileId)?.content ?? "")) {
      const text = typeof line.body.input === "string" ? line.body.input : JSON.stringify(line.body.input ?? "");
      if (failing.has(line.custom_id)) {
        const body = { error: { message: "Invalid input for this item (fake)", type: "invalid_request_error" } };
        errors.push(
          JSON.stringify({
            id: `batch_req_${++seq}`,
            custom_id: line.custom_id,
            response: { status_code: 400, request_id: `req_${seq}`, body },
            error: null,
          }),
        );
        continue;
      }
      state.stats.inputTokens += tokensOf(text);
      const embedding = fakeVector(text, line.body.dimensions ?? state.embeddingDimensions);
      const body = {
        object: "list",
        data: [{ object: "embedding", index: 0, embedding }],
        model: line.body.model ?? "text-embedding-3-small",
        usage: { prompt_tokens: tokensOf(text), total_tokens: tokensOf(text) },
      };
      output.push(
        JSON.stringify({
          id: `batch_req_${++seq}`,
          custom_id: line.custom_id,
          response: { status_code: 200, request_id: `req_${seq}`, body },
          error: null,
        }),
      );
    }
    batch.outputFileId = output.length > 0 ? addFile("batch_output", `${batch.id}_output.jsonl`, output.join("\n") + "\n").id : null;
    batch.errorFileId = errors.length > 0 ? addFile("batch_output", `${batch.id}_error.jsonl`, errors.join("\n") + "\n").id : null;
    batch.completed = output.length;
    batch.failed = errors.length;
    batch.status = "completed";
  }

  function advance(batch: FakeBatch): void {
    batch.polls++;
    const b = batch.behaviour;
    if (batch.status !== "validating" && batch.status !== "in_progress") return;
    if (b.kind === "stuck") batch.status = "in_progress";
    else if (b.kind === "fail") batch.status = "failed";
    else if (batch.polls < (b.afterPolls ?? 1)) batch.status = "in_progress";
    else if (b.kind === "complete") finish(batch);
    else batch.status = "expired";
  }

  const routes: FakeRoute[] = [
    {
      method: "POST",
      path: "/v1/files",
      name: "files.create",
      format: "openai",
      handle(ctx) {
        counts.uploads++;
        if (typeof ctx.body !== "string") throw new HttpError(400, "expected a multipart/form-data upload");
        const upload = parseMultipart(ctx.body, ctx.req.headers["content-type"] ?? "");
        if (upload.purpose !== "batch") throw new HttpError(400, `purpose must be batch, got '${upload.purpose}'`);
        parseInput(upload.content);
        state.record(ctx, routes[0] as FakeRoute, 200);
        sendJson(ctx.res, 200, fileObject(addFile(upload.purpose, upload.filename, upload.content)));
      },
    },
    {
      method: "POST",
      path: "/v1/batches",
      name: "batches.create",
      format: "openai",
      handle(ctx) {
        counts.creates++;
        const body = (ctx.body ?? {}) as {
          input_file_id?: string;
          endpoint?: string;
          completion_window?: string;
          metadata?: Record<string, string>;
        };
        const input = body.input_file_id ? files.get(body.input_file_id) : undefined;
        if (!input) throw new HttpError(404, `No such File object: ${body.input_file_id ?? ""}`);
        if (body.endpoint !== "/v1/embeddings") throw new HttpError(400, "this fake only runs /v1/embeddings batches");
        const batch: FakeBatch = {
          id: `batch_fake${++seq}`,
          inputFileId: input.id,
          behaviour,
          polls: 0,
          status: "validating",
          createdAt: Math.floor(Date.now() / 1000),
          metadata: body.metadata ?? {},
          outputFileId: null,
          errorFileId: null,
          total: parseInput(input.content).length,
          completed: 0,
          failed: 0,
        };
        batches.set(batch.id, batch);
        state.record(ctx, routes[1] as FakeRoute, 200);
        sendJson(ctx.res, 200, batchObject(batch));
      },
    },
    {
      method: "GET",
      path: /^\/v1\/batches\/[^/]+$/,
      name: "batches.retrieve",
      format: "openai",
      handle(ctx) {
        counts.polls++;
        const batch = batches.get(ctx.url.pathname.split("/").pop() ?? "");
        if (!batch) throw new HttpError(404, "No such batch");
        advance(batch);
        sendJson(ctx.res, 200, batchObject(batch));
      },
    },
    {
      method: "GET",
      path: /^\/v1\/files\/[^/]+\/content$/,
      name: "files.content",
      format: "openai",
      handle(ctx) {
        counts.downloads++;
        const file = files.get(ctx.url.pathname.split("/")[3] ?? "");
        if (!file) throw new HttpError(404, "No such File object");
        ctx.res.writeHead(200, { "content-type": "application/octet-stream", "content-length": Buffer.byteLength(file.content) });
        ctx.res.end(file.content);
      },
    },
  ];

  return {
    routes,
    behave: (next) => void (behaviour = next),
    failLines: (ids) => ids.forEach((id) => failing.add(id)),
    files,
    batches,
    counts,
  };
}
