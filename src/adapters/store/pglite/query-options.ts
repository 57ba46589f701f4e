import { setImmediate as nextTurn } from "node:timers/promises";
import type { PGlite, SerializerOptions } from "@electric-sql/pglite";

/**
 * What every parameterised statement of Sluice on the shared PGlite instance (store and embedded
 * queue backend) runs with. Two properties of PGlite make these necessary:
 *
 * 1. PGlite writes each Bind message into module-level buffers. A parameter its serializer turns into
 *    neither text nor bytes (e.g. an object for an array-typed parameter: the array serializer returns
 *    non-arrays unchanged) throws half-way through, and the half-written message is sent in front of
 *    the next statement of *any* caller: `invalid message format` (08P01) for the store, the queue
 *    and /ready alike. Serializing every parameter through `checkedSerializers` first raises that
 *    error for the one statement, before a byte is written.
 * 2. PGlite runs on this thread and answers through already-resolved promises, so a loop of
 *    statements (the backfill) never lets timers or sockets run: the whole API stalls behind it.
 *    `yieldToEventLoop` before each statement lets pending I/O in between.
 */

type Serializer = (value: unknown) => unknown;

function isWireValue(value: unknown): value is string | ArrayBufferView | ArrayBuffer {
  return typeof value === "string" || ArrayBuffer.isView(value) || value instanceof ArrayBuffer;
}

/**
 * Per-query serializers (they take precedence over the instance's) that apply the instance's own
 * serializer for the parameter's type, or PGlite's `toString()` fallback, and check the result.
 */
export function checkedSerializers(db: PGlite): SerializerOptions {
  const byOid = new Map<number, Serializer>();
  const forOid = (oid: number): Serializer => {
    let serializer = byOid.get(oid);
    if (!serializer) {
      serializer = (value) => {
        const own = db.serializers[oid] as Serializer | undefined;
        // PGlite's own fallback is `toString()` (not String(), which insists on a primitive).
        const wire = own ? own(value) : (value as { toString(): unknown }).toString();
        if (isWireValue(wire)) return wire;
        throw new TypeError(`A parameter of type oid ${oid} serializes to ${typeof wire}, not text or bytes; the statement was not sent`);
      };
      byOid.set(oid, serializer);
    }
    return serializer;
  };
  return new Proxy(
    {},
    {
      get: (_target, key) => (typeof key === "string" && /^\d+$/.test(key) ? forOid(Number(key)) : undefined),
    },
  );
}

/** Lets timers and sockets run before the next statement (see 2. above); costs one event-loop turn. */
export function yieldToEventLoop(): Promise<void> {
  return nextTurn();
}
