import { describe, expect, it } from "vitest";
import { assertDeliverable, guardedLookup, isPrivateAddress } from "./targets.js";

const publicOnly = {
  allowPrivate: false,
  resolve: async (host: string) => (host === "hooks.example.com" ? ["93.184.216.34"] : host === "rebound.example.com" ? ["10.1.2.3"] : []),
};

describe("webhook targets", () => {
  it("knows loopback, private, link-local and mapped addresses", () => {
    for (const a of [
      "127.0.0.1",
      "10.0.0.5",
      "172.20.1.1",
      "192.168.1.1",
      "169.254.169.254",
      "::1",
      "fd00::1",
      "fe80::1",
      "::ffff:127.0.0.1",
      "0.0.0.0",
      "100.64.0.1",
    ])
      expect(isPrivateAddress(a), a).toBe(true);
    for (const a of ["93.184.216.34", "8.8.8.8", "2606:4700::1111"]) expect(isPrivateAddress(a), a).toBe(false);
  });

  it("takes a public https URL and refuses other schemes, credentials, private hosts and unresolvable names", async () => {
    await expect(assertDeliverable("https://hooks.example.com/sluice", publicOnly)).resolves.toBeInstanceOf(URL);
    for (const bad of [
      "ftp://hooks.example.com/x",
      "file:///etc/passwd",
      "not a url",
      "http://user:pw@hooks.example.com/",
      "http://127.0.0.1:8080/",
      "http://[::1]/",
      "http://169.254.169.254/latest",
      "http://rebound.example.com/",
      "http://nowhere.example.com/",
    ]) {
      await expect(assertDeliverable(bad, publicOnly), bad).rejects.toMatchObject({ code: "WEBHOOK_URL_REFUSED", status: 400 });
    }
  });

  it("allows private targets only when told to", async () => {
    await expect(assertDeliverable("http://127.0.0.1:8080/hook", { allowPrivate: true })).resolves.toBeInstanceOf(URL);
    await expect(assertDeliverable("gopher://127.0.0.1/", { allowPrivate: true })).rejects.toMatchObject({ code: "WEBHOOK_URL_REFUSED" });
  });

  it("refuses, in the socket's own lookup, a name that resolves to loopback unless private targets are allowed", async () => {
    const resolveWith = (allowPrivate: boolean) =>
      new Promise<{ err: NodeJS.ErrnoException | null; address: unknown }>((resolve) =>
        guardedLookup(allowPrivate)("localhost", {}, (err, address) => resolve({ err, address })),
      );
    const refused = await resolveWith(false);
    expect(refused.err?.code).toBe("WEBHOOK_URL_REFUSED");
    const allowed = await resolveWith(true);
    expect(allowed.err).toBeNull();
    expect(isPrivateAddress(String(allowed.address))).toBe(true);
  });
});
