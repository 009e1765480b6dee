import assert from "node:assert/strict";
import { buildAck, parseHl7 } from "../../../codecs/hl7v2/mod.ts";
import { memoryLogger } from "../../../actors/runtime/log.ts";
import { connectMllp } from "../../../transports/mllp/client.ts";
import { ThreadMllpConnector } from "../../../transports/mllp/thread_connector.ts";
import { serveMllp } from "../../../transports/mllp/server.ts";
import type { MllpConnection, MllpInbox, MllpTarget } from "../../../actors/ports.ts";
import { adt } from "../../helpers/net.ts";
import { makeClientCert, makePki } from "../../helpers/tls.ts";
import { testNeeding } from "../../helpers/system_tools.ts";
/** These tests drive openssl as a real peer. */
const opensslTest = testNeeding("openssl");

const enc = new TextEncoder();
const dec = new TextDecoder();

type Connect = (
  target: MllpTarget,
  options: { timeoutMs: number; signal: AbortSignal },
) => Promise<MllpConnection>;

/**
 * The client tests run with both outbound connectors: a socket on the caller's thread, and the
 * engine's default, sockets on a thread of their own.
 */
function withConnectors(name: string, body: (connect: Connect) => Promise<void>): void {
  Deno.test(name, () => body(connectMllp));
  Deno.test(`${name} (socket thread)`, async () => {
    const connector = new ThreadMllpConnector();
    try {
      await body((target, options) => connector.connect(target, options));
    } finally {
      connector.close();
    }
  });
}

const echoAck: MllpInbox = {
  maxFrameBytes: 1 << 20,
  idleTimeoutMs: () => 5_000,
  oversize: () => new Uint8Array(),
  receive: (f) =>
    Promise.resolve({
      reply: enc.encode(buildAck(parseHl7(dec.decode(f.payload)), { code: "AA" }).encode()),
    }),
};

withConnectors(
  "MLLP over TLS: the client checks the server certificate against the configured CA",
  async (connectMllp) => {
    const pki = await makePki();
    const log = memoryLogger();
    const server = await serveMllp({
      port: 0,
      hostname: "127.0.0.1",
      tls: { cert: pki.serverCert, key: pki.serverKey },
      inbox: echoAck,
      log,
    });
    const signal = new AbortController().signal;
    try {
      const conn = await connectMllp(
        { host: "localhost", port: server.port, tls: { ca: pki.caCert } },
        { timeoutMs: 5_000, signal },
      );
      try {
        await conn.send(enc.encode(adt("TLS1")));
        const got = await conn.receive(AbortSignal.timeout(5_000));
        assert.equal(got.type, "frame");
        if (got.type === "frame") {
          assert.equal(parseHl7(dec.decode(got.payload)).get("MSA-2"), "TLS1");
        }
      } finally {
        conn.close();
      }
      // Without the CA the certificate is not trusted; with a wrong name it does not match.
      await assert.rejects(
        connectMllp({ host: "localhost", port: server.port, tls: {} }, {
          timeoutMs: 5_000,
          signal,
        }),
      );
      // 127.0.0.2 is loopback too, but the certificate names only localhost and 127.0.0.1.
      const other = await serveMllp({
        port: 0,
        hostname: "127.0.0.2",
        tls: { cert: pki.serverCert, key: pki.serverKey },
        inbox: echoAck,
        log,
      });
      try {
        await assert.rejects(
          connectMllp({ host: "127.0.0.2", port: other.port, tls: { ca: pki.caCert } }, {
            timeoutMs: 5_000,
            signal,
          }),
          /certificate|name/i,
        );
      } finally {
        await other.close();
      }
    } finally {
      await server.close();
      await Deno.remove(pki.dir, { recursive: true });
    }
  },
);

opensslTest(
  "MLLP over TLS refuses TLS 1.1 and accepts TLS 1.2 and 1.3 (openssl s_client)",
  async () => {
    const pki = await makePki();
    const server = await serveMllp({
      port: 0,
      hostname: "127.0.0.1",
      tls: { cert: pki.serverCert, key: pki.serverKey },
      inbox: echoAck,
      log: memoryLogger(),
    });
    const probe = async (...flags: string[]) => {
      const child = new Deno.Command("openssl", {
        args: ["s_client", "-connect", `127.0.0.1:${server.port}`, ...flags],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const w = child.stdin.getWriter();
      await w.close();
      const out = await child.output();
      return dec.decode(out.stdout) + dec.decode(out.stderr);
    };
    try {
      assert.match(await probe("-tls1_3"), /Protocol\s*:?\s*TLSv1\.3|TLSv1\.3/);
      assert.match(
        await probe("-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"),
        /ECDHE-RSA-AES128-GCM-SHA256/,
      );
      // Refused handshakes end with no cipher negotiated.
      const refused = [["-tls1_2", "-cipher", "AES128-SHA"], [
        "-tls1_2",
        "-cipher",
        "AES256-GCM-SHA384",
      ], [
        "-tls1_1",
      ]];
      for (const flags of refused) {
        assert.match(await probe(...flags), /Cipher is \(NONE\)/, flags.join(" "));
      }
    } finally {
      await server.close();
      await Deno.remove(pki.dir, { recursive: true });
    }
  },
);

withConnectors(
  "MLLP over mutual TLS: a client certificate from the configured CA is required",
  async (connectMllp) => {
    const pki = await makePki();
    const other = await makePki();
    const good = await makeClientCert(pki, "lab-interface");
    const foreign = await makeClientCert(other, "lab-interface");
    const log = memoryLogger();
    const server = await serveMllp({
      port: 0,
      hostname: "127.0.0.1",
      tls: { cert: pki.serverCert, key: pki.serverKey, ca: pki.caCert, requireClientCert: true },
      inbox: echoAck,
      log,
    });
    const signal = new AbortController().signal;
    // Sends one message; the ACK's MSA-2, or why there was none.
    const exchange = async (tls: { ca: string; cert?: string; key?: string }, id: string) => {
      try {
        const conn = await connectMllp(
          { host: "localhost", port: server.port, tls },
          { timeoutMs: 5_000, signal },
        );
        try {
          await conn.send(enc.encode(adt(id)));
          const got = await conn.receive(AbortSignal.timeout(5_000));
          return got.type === "frame"
            ? parseHl7(dec.decode(got.payload)).get("MSA-2")
            : `no ACK: ${got.type}`;
        } finally {
          conn.close();
        }
      } catch (error) {
        return `refused: ${error instanceof Error ? error.message : error}`;
      }
    };
    try {
      assert.equal(await exchange({ ca: pki.caCert, ...good }, "MTLS1"), "MTLS1");
      assert.doesNotMatch(await exchange({ ca: pki.caCert }, "MTLS2") ?? "", /^MTLS2$/);
      assert.doesNotMatch(await exchange({ ca: pki.caCert, ...foreign }, "MTLS3") ?? "", /^MTLS3$/);
      assert.ok(log.lines.some((l) => l.includes("mllp.tls-client-refused")), log.lines.join("\n"));
      assert.ok(
        log.lines.some((l) => l.includes("mllp.tls-client") && l.includes("lab-interface")),
      );
    } finally {
      await server.close();
      await Deno.remove(pki.dir, { recursive: true });
      await Deno.remove(other.dir, { recursive: true });
    }
  },
);

opensslTest(
  "MLLP over mutual TLS has the same TLS floor: TLS 1.1 is refused (openssl s_client)",
  async () => {
    const pki = await makePki();
    const server = await serveMllp({
      port: 0,
      hostname: "127.0.0.1",
      tls: { cert: pki.serverCert, key: pki.serverKey, ca: pki.caCert, requireClientCert: true },
      inbox: echoAck,
      log: memoryLogger(),
    });
    try {
      const child = new Deno.Command("openssl", {
        args: ["s_client", "-connect", `127.0.0.1:${server.port}`, "-tls1_1"],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      });
      const out = await child.output();
      assert.match(dec.decode(out.stdout) + dec.decode(out.stderr), /Cipher is \(NONE\)/);
    } finally {
      await server.close();
      await Deno.remove(pki.dir, { recursive: true });
    }
  },
);

opensslTest(
  "MLLP over TLS, outbound: the client takes TLS 1.3 and 1.2 with an AEAD suite, and refuses TLS 1.1 and suites without AEAD (openssl s_server)",
  async () => {
    const pki = await makePki();
    /** Whether connectMllp opens a connection to `openssl s_server` run with `flags`. */
    const outcome = async (...flags: string[]): Promise<string> => {
      const child = new Deno.Command("openssl", {
        args: [
          "s_server",
          "-accept",
          "127.0.0.1:0",
          "-cert",
          `${pki.dir}/server.crt`,
          "-key",
          `${pki.dir}/server.key`,
          ...flags,
        ],
        stdin: "piped",
        stdout: "piped",
        stderr: "null",
      }).spawn();
      try {
        // s_server says "ACCEPT 127.0.0.1:<port>" once it listens.
        let seen = "";
        let port: number | undefined;
        const reader = child.stdout.getReader();
        const deadline = AbortSignal.timeout(10_000);
        while (port === undefined) {
          if (deadline.aborted) throw new Error(`openssl s_server did not listen: ${seen}`);
          const { value, done } = await reader.read();
          if (done) throw new Error(`openssl s_server ended: ${seen}`);
          seen += dec.decode(value);
          const m = /ACCEPT 127\.0\.0\.1:(\d+)/.exec(seen);
          if (m) port = Number(m[1]);
        }
        reader.releaseLock();
        void child.stdout.cancel().catch(() => {});
        try {
          const conn = await connectMllp(
            { host: "localhost", port, tls: { ca: pki.caCert } },
            { timeoutMs: 5_000, signal: AbortSignal.timeout(10_000) },
          );
          conn.close();
          return "connected";
        } catch (error) {
          return `refused: ${error instanceof Error ? error.message : error}`;
        }
      } finally {
        child.kill();
        await child.status;
      }
    };
    try {
      assert.equal(await outcome("-tls1_3"), "connected");
      assert.equal(
        await outcome("-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"),
        "connected",
      );
      for (
        const flags of [
          ["-tls1_2", "-cipher", "AES128-SHA"],
          ["-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA"],
          ["-tls1_1", "-cipher", "ALL:@SECLEVEL=0"],
        ]
      ) {
        assert.match(await outcome(...flags), /^refused: /, flags.join(" "));
      }
    } finally {
      await Deno.remove(pki.dir, { recursive: true });
    }
  },
);
