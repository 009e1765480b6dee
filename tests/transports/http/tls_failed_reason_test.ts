import assert from "node:assert/strict";
import { ManualClock } from "../../../actors/runtime/clock.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { CONNECTION_LOG_INTERVAL_MS } from "../../../transports/http/serve.ts";
import { sendAndClose, untilLogged } from "../../helpers/log_flood.ts";
import { makePki, startSClient } from "../../helpers/tls.ts";
import { httpsServer } from "./tls_server_fixture.ts";
import { testNeeding } from "../../helpers/system_tools.ts";

/** These tests drive `openssl s_client` as the client. */
const opensslTest = testNeeding("openssl");

type Log = ReturnType<typeof memoryLogger>;

/** The `reason` of each `http.tls-failed` line so far. */
const reasons = (log: Log) =>
  log.lines.filter((l) => l.includes(" http.tls-failed ")).map((l) =>
    /reason="([^"]*)"|reason=(\S+)/.exec(l)?.slice(1).find((r) => r !== undefined) ?? l
  );

/**
 * The reason logged for one failed handshake made by `fail`; the clock first moves past the
 * per-address throttle, so it gets its line.
 */
async function failure(
  log: Log,
  clock: ManualClock,
  fail: () => Promise<unknown>,
  what: string,
): Promise<string> {
  clock.advance(CONNECTION_LOG_INTERVAL_MS);
  const before = reasons(log).length;
  let finish: (() => Promise<unknown>) | undefined;
  try {
    const started = await fail();
    if (typeof started === "function") finish = started as () => Promise<unknown>;
    await untilLogged(log, what, () => reasons(log).length > before);
  } finally {
    await finish?.();
  }
  return reasons(log)[before]!;
}

Deno.test("http.tls-failed names the cause: plain HTTP to the HTTPS port, a client hanging up mid-handshake", async () => {
  const pki = await makePki();
  const clock = new ManualClock();
  const log = memoryLogger();
  const server = await httpsServer(pki, log, clock);
  try {
    const plain = new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert.equal(
      await failure(log, clock, () => sendAndClose(server.port, plain), "plain HTTP"),
      "not TLS: the client sent plain text (plain MLLP or HTTP?) to a TLS port",
    );
    // Half a ClientHello record header, then the close.
    const half = new Uint8Array([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]);
    assert.equal(
      await failure(log, clock, () => sendAndClose(server.port, half, false), "a hang-up"),
      "connection closed by the client before the TLS handshake completed",
    );
  } finally {
    await server.shutdown();
    await Deno.remove(pki.dir, { recursive: true });
  }
});

opensslTest(
  "http.tls-failed names the cause: a TLS 1.1 client, a client offering only CBC suites, one that does not trust the server's CA (openssl s_client)",
  async () => {
    const pki = await makePki();
    const clock = new ManualClock();
    const log = memoryLogger();
    const server = await httpsServer(pki, log, clock);
    const sClient = (flags: string[]) => () => {
      const client = startSClient(server.port, flags);
      return Promise.resolve(() => client.finish());
    };
    try {
      const ca = ["-CAfile", `${pki.dir}/ca.crt`];
      assert.match(
        await failure(log, clock, sClient([...ca, "-tls1_1"]), "TLS 1.1"),
        /^client offers only TLS 1\.1 or older .*TLS 1\.2 or 1\.3 required/,
      );
      assert.match(
        await failure(
          log,
          clock,
          sClient([...ca, "-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA"]),
          "CBC only",
        ),
        /^no cipher suite in common: the client offers no AEAD suite/,
      );
      assert.match(
        await failure(
          log,
          clock,
          sClient(["-no-CAfile", "-no-CApath", "-no-CAstore", "-verify_return_error"]),
          "an untrusted server certificate",
        ),
        /^the client refused this server's certificate: it does not trust its CA/,
      );
      assert.ok(!reasons(log).some((r) => r.includes("hang up")), reasons(log).join("\n"));
    } finally {
      await server.shutdown();
      await Deno.remove(pki.dir, { recursive: true });
    }
  },
);
