import { lookup as lookupCallback, type LookupAddress } from "node:dns";
import { lookup } from "node:dns/promises";
import { BlockList, isIP, type LookupFunction } from "node:net";
import { SluiceError } from "../../core/errors.ts";

/**
 * Which URLs Sluice will POST callbacks to. A callback URL comes from a tenant, and the server
 * sits inside the operator's network: without this check a tenant could make Sluice call its
 * metadata service (169.254.169.254), its database or admin ports on loopback (SSRF). Only http(s),
 * and only public addresses unless the operator allows private ones (WEBHOOK_ALLOW_PRIVATE=true,
 * for receivers on the same network, and for tests whose receiver listens on loopback).
 */

const MAX_URL_LENGTH = 2_048;

const PRIVATE_RANGES: ReadonlyArray<readonly [string, number, "ipv4" | "ipv6"]> = [
  ["0.0.0.0", 8, "ipv4"],
  ["10.0.0.0", 8, "ipv4"],
  ["100.64.0.0", 10, "ipv4"],
  ["127.0.0.0", 8, "ipv4"],
  ["169.254.0.0", 16, "ipv4"],
  ["172.16.0.0", 12, "ipv4"],
  ["192.0.0.0", 24, "ipv4"],
  ["192.168.0.0", 16, "ipv4"],
  ["198.18.0.0", 15, "ipv4"],
  ["224.0.0.0", 4, "ipv4"],
  ["240.0.0.0", 4, "ipv4"],
  ["::", 128, "ipv6"],
  ["::1", 128, "ipv6"],
  ["fc00::", 7, "ipv6"],
  ["fe80::", 10, "ipv6"],
  ["ff00::", 8, "ipv6"],
];

const privateAddresses = new BlockList();
for (const [network, prefix, family] of PRIVATE_RANGES) privateAddresses.addSubnet(network, prefix, family);

/** An IPv4-mapped IPv6 address (::ffff:127.0.0.1) is its IPv4 address. */
function unmapped(address: string): { address: string; family: "ipv4" | "ipv6" } {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1]) return { address: mapped[1], family: "ipv4" };
  return { address, family: isIP(address) === 6 ? "ipv6" : "ipv4" };
}

export function isPrivateAddress(address: string): boolean {
  const { address: plain, family } = unmapped(address);
  return privateAddresses.check(plain, family);
}

type Resolve = (hostname: string) => Promise<string[]>;

const systemResolve: Resolve = async (hostname) => (await lookup(hostname, { all: true, verbatim: true })).map((a) => a.address);

function refuse(message: string, url: string): SluiceError {
  return new SluiceError("WEBHOOK_URL_REFUSED", message, { details: { url: url.slice(0, 200) } });
}

function parseTarget(raw: string): URL {
  if (raw.length > MAX_URL_LENGTH) throw refuse(`A callback URL is at most ${MAX_URL_LENGTH} characters`, raw);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw refuse("The callback URL is not a valid URL", raw);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw refuse(`Callback URLs must be http or https, not ${url.protocol.replace(/:$/, "")}`, raw);
  if (url.username || url.password) throw refuse("A callback URL may not carry credentials; verify the signature instead", raw);
  return url;
}

export interface TargetCheckOptions {
  /** WEBHOOK_ALLOW_PRIVATE: loopback and private networks are fine. */
  allowPrivate: boolean;
  resolve?: Resolve;
}

/**
 * Throws WEBHOOK_URL_REFUSED unless `raw` is an http(s) URL whose host resolves only to public
 * addresses (or private ones are allowed). Run at intake, for a clear 400, and again before each
 * delivery, since a name can resolve elsewhere later (DNS rebinding).
 */
export async function assertDeliverable(raw: string, options: TargetCheckOptions): Promise<URL> {
  const url = parseTarget(raw);
  if (options.allowPrivate) return url;
  const host = url.hostname.replace(/^\[|\]$/g, "");
  let addresses: string[];
  if (isIP(host)) {
    addresses = [host];
  } else {
    try {
      addresses = await (options.resolve ?? systemResolve)(host);
    } catch {
      throw refuse(`The callback host ${host} does not resolve`, raw);
    }
  }
  if (addresses.length === 0 || addresses.some(isPrivateAddress)) {
    throw refuse(
      `The callback host ${host} is a loopback or private address; Sluice calls only public hosts (WEBHOOK_ALLOW_PRIVATE=true allows private ones)`,
      raw,
    );
  }
  return url;
}

/**
 * A `lookup` for the delivery's socket that refuses private addresses. The check before the
 * request resolves the name once and the socket would resolve it again: a name re-pointed in
 * between (DNS rebinding) would slip through, unless the socket's own resolution is checked.
 */
export function guardedLookup(allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    lookupCallback(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, "", 0);
      if (!allowPrivate && (addresses.length === 0 || addresses.some((a) => isPrivateAddress(a.address)))) {
        return callback(
          Object.assign(new Error(`${hostname} resolves to a loopback or private address (WEBHOOK_ALLOW_PRIVATE is off)`), {
            code: "WEBHOOK_URL_REFUSED",
          }),
          "",
          0,
        );
      }
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      const [first] = addresses;
      return callback(null, first?.address ?? "", first?.family ?? 4);
    });
  };
}
