/**
 * SFTP end to end through the engine, with real peers only:
 *
 * - polled integrations against Debian's OpenSSH sshd: an HL7 batch file is split and each
 *   message delivered over MLLP (to a `@medplum/hl7` `Hl7Server`) in file order, the file is
 *   archived and every message logged; a PDF goes to an SFTP destination on the same sshd;
 * - the hosted SFTP folder composed as `main.ts serve` composes it: a file uploaded with OpenSSH's
 *   `sftp -b` is routed over MLLP, and a destination of kind `sftpOutbox` leaves files that
 *   another hosted user downloads with `sftp -b`.
 */

import assert from "node:assert/strict";
import { parseHl7 } from "../../../codecs/hl7v2/mod.ts";
import { type Config, parseConfig } from "../../../actors/config/mod.ts";
import type { Engine } from "../../../actors/engine/engine.ts";
import { listLogs, type LogRecord } from "../../../actors/store/mod.ts";
import { startEngine, type TestEngine } from "../../helpers/engine.ts";
import { adt, startRecordingHl7Server, waitFor } from "../../helpers/net.ts";
import { sftpBatch, type Sshd, startSshd, testKey } from "../../helpers/sshd.ts";
import { testNeeding } from "../../helpers/system_tools.ts";
import { tempDir } from "../../helpers/temp.ts";
/** These tests drive sshd, sftp, ssh-keygen as a real peer. */
const sshTest = testNeeding("sshd", "sftp", "ssh-keygen");

const encoder = new TextEncoder();
/** Every wait in these tests ends within this. */
const WAIT_MS = 15_000;

/** An MLLP receiver (`Hl7Server`) on a port of the system's choosing, answering AA. */
async function startHl7Receiver() {
  const { received, server, port } = await startRecordingHl7Server();
  return {
    port,
    received,
    /** MSH-10 of each message received, in arrival order. */
    controlIds: () => received.map((m) => parseHl7(m).get("MSH-10") ?? ""),
    stop: () => server.stop({ forceDrainTimeoutMs: 100 }),
  };
}

/** The config, with every secret taken from `secrets` by variable name. */
function configOf(value: unknown, secrets: Record<string, string>): Config {
  const parsed = parseConfig(value, {
    env: (name) => secrets[name],
    readFile: () => new Error("no files in these tests"),
  });
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.problems));
  return parsed.config;
}

/** Names in a folder (folders with a trailing `/`), hidden ones included, sorted. */
async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.isDirectory ? `${e.name}/` : e.name);
  return out.sort();
}

/** Every log of an integration, oldest first. */
async function logsOf(engine: Engine, integrationId: string): Promise<LogRecord[]> {
  const { logs, next } = await listLogs(engine.store.kv, { integrationId, limit: 500 });
  assert.equal(next, undefined);
  return logs.reverse();
}

/** An FHS/BHS batch of `messages`, with the CRLF line ends files usually have. */
function batchFile(messages: string[]): string {
  return [
    "FHS|^~\\&|EPIC|HOSP|ENGINE|CLINIC|20240315123000||admissions.hl7||F0001",
    "BHS|^~\\&|EPIC|HOSP|ENGINE|CLINIC|20240315123000||||B0001",
    ...messages.map((m) => m.replaceAll("\r", "\r\n")),
    `BTS|${messages.length}`,
    "FTS|1",
    "",
  ].join("\r\n");
}

/** A real sshd that authorises the engine's key, and the endpoint fields a config needs. */
async function startRemote(): Promise<{ sshd: Sshd; endpoint: Record<string, unknown> }> {
  const key = await testKey("engine_e2e");
  const sshd = await startSshd({ authorizedKeys: [key.publicKey] });
  return {
    sshd,
    endpoint: {
      host: "127.0.0.1",
      port: sshd.port,
      user: sshd.user,
      keys: [{ privateKey: { env: "ENGINE_KEY" } }],
      hostKeyFingerprint: sshd.hostKey.fingerprint,
    },
  };
}

sshTest(
  "polled SFTP batch file: split, delivered over MLLP in file order, archived, every message logged",
  async () => {
    await using dir = await tempDir({ prefix: "sftp-e2e-" });
    const { sshd, endpoint } = await startRemote();
    const ehr = await startHl7Receiver();
    let running: TestEngine | undefined;
    try {
      const ids = ["ADT1001", "ADT1002", "ADT1003", "ADT1004"];
      const messages = ids.map((id) => adt(id));
      const file = encoder.encode(batchFile(messages));
      await Deno.mkdir(`${sshd.files}/adt`);
      await Deno.writeFile(`${sshd.files}/adt/admissions.hl7`, file);
      const config = configOf({
        node: { id: "e2e" },
        kv: { path: `${dir.path}/engine.kv` },
        environments: [{ id: "dev", type: "development" }],
        integrations: [{
          id: "lab-adt",
          environment: "dev",
          sftp: { ...endpoint, folder: "adt", pattern: "*.hl7", intervalSeconds: 0.2 },
        }],
        destinations: [{
          id: "ehr",
          environment: "dev",
          mllp: { host: "127.0.0.1", port: ehr.port },
        }],
        subscriptions: [{ from: { integration: "lab-adt" }, to: ["ehr"] }],
      }, { ENGINE_KEY: (await testKey("engine_e2e")).privateKey });
      running = await startEngine(config);
      const { engine, log } = running;

      await waitFor("four messages over MLLP", () => ehr.received.length >= ids.length, WAIT_MS);
      assert.deepEqual(ehr.controlIds(), ids, "delivered in file order, each once");
      // Each message as it was in the file, segments ended by CR as MLLP wants them.
      assert.deepEqual(ehr.received.map((m) => m.replace(/\r$/, "")), messages);

      await waitFor("the file archived", async () => {
        const left = await names(`${sshd.files}/adt`);
        return left.length === 1 && left[0] === "archive/";
      }, WAIT_MS);
      assert.deepEqual(await names(`${sshd.files}/adt/archive`), ["admissions.hl7"]);
      assert.deepEqual(await Deno.readFile(`${sshd.files}/adt/archive/admissions.hl7`), file);

      // The logs account for every message: received and routed, then sent and acknowledged.
      await waitFor("SEND logs succeeded", async () => {
        const logs = await logsOf(engine, "lab-adt");
        return logs.filter((l) => l.type === "SEND" && l.status === "SUCCEEDED").length === 4;
      }, WAIT_MS);
      const logs = await logsOf(engine, "lab-adt");
      const receive = logs.filter((l) => l.type === "RECEIVE");
      const send = logs.filter((l) => l.type === "SEND");
      assert.equal(logs.length, 8, JSON.stringify(logs));
      assert.deepEqual(
        receive.map((l) => [l.controlId, l.status, l.actorId]),
        ids.map((id) => [id, "SUCCEEDED", "sftp:lab-adt"]),
      );
      assert.deepEqual(
        send.map((l) => [l.controlId, l.destinationId, l.status, l.dataModel, l.eventType]),
        ids.map((id) => [id, "ehr", "SUCCEEDED", "PatientAdmin", "Arrival"]),
      );
      for (const [i, l] of send.entries()) {
        assert.equal(l.messageId, receive[i]!.messageId, "HL7 is sent as received");
        assert.equal(l.attemptCount, 1);
        assert.equal(l.attempts[0]?.outcome, "SUCCEEDED");
      }
      const records = await engine.store.getMessages(receive.map((l) => l.messageId));
      for (const r of records) {
        assert.equal(r?.fileName, "admissions.hl7");
        assert.equal(r?.origin.peer, `${sshd.user}@127.0.0.1:${sshd.port}`);
      }

      // The admin view: every queue drained, the poller running without an error.
      const statuses = await engine.supervisor.statuses();
      const poller = statuses.find((s) => s.id === "sftp-poll:lab-adt");
      assert.ok(poller, JSON.stringify(statuses.map((s) => s.id)));
      assert.equal(poller.lastError, undefined);
      assert.ok(statuses.every((s) => s.queueDepth === 0), JSON.stringify(statuses));
      assert.equal(log.lines.filter((l) => l.includes("sftp.poll-failed")).length, 0);
    } finally {
      await running?.close();
      await ehr.stop();
      await sshd.stop();
    }
  },
);

sshTest(
  "polled SFTP PDF is delivered byte for byte to an SFTP destination, renamed from a temporary name",
  async () => {
    await using dir = await tempDir({ prefix: "sftp-e2e-" });
    const { sshd, endpoint } = await startRemote();
    let running: TestEngine | undefined;
    let stopWatching = () => Promise.resolve();
    try {
      // A PDF header, then bytes of every value (CR, LF, NUL, high bytes) that must pass untouched.
      const pdf = new Uint8Array(70_000);
      pdf.set(encoder.encode("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"));
      for (let i = 20; i < pdf.length; i += 65_536) {
        crypto.getRandomValues(pdf.subarray(i, Math.min(i + 65_536, pdf.length)));
      }
      await Deno.mkdir(`${sshd.files}/docs`);
      await Deno.mkdir(`${sshd.files}/outgoing`);
      await Deno.writeFile(`${sshd.files}/docs/report.pdf`, pdf);
      const config = configOf({
        node: { id: "e2e" },
        kv: { path: `${dir.path}/engine.kv` },
        environments: [{ id: "dev", type: "development" }],
        integrations: [{
          id: "lab-docs",
          environment: "dev",
          sftp: { ...endpoint, folder: "docs", pattern: "*.pdf", intervalSeconds: 0.2 },
        }],
        destinations: [{
          id: "records",
          environment: "dev",
          sftp: { ...endpoint, folder: "outgoing", fileName: "{name}-{id}.{ext}" },
        }],
        subscriptions: [{ from: { integration: "lab-docs" }, to: ["records"] }],
      }, { ENGINE_KEY: (await testKey("engine_e2e")).privateKey });
      // The receiving side's view, from the kernel: what was written under which name.
      const watcher = Deno.watchFs(`${sshd.files}/outgoing`);
      const events: Deno.FsEvent[] = [];
      const watching = (async () => {
        for await (const e of watcher) events.push(e);
      })();
      stopWatching = async () => {
        watcher.close();
        await watching;
      };
      running = await startEngine(config);
      const { engine, log } = running;

      await waitFor("the SEND log succeeded", async () => {
        const logs = await logsOf(engine, "lab-docs");
        return logs.some((l) => l.type === "SEND" && l.status === "SUCCEEDED");
      }, WAIT_MS);
      const logs = await logsOf(engine, "lab-docs");
      assert.deepEqual(logs.map((l) => [l.type, l.status, l.destinationId]), [
        ["RECEIVE", "SUCCEEDED", undefined],
        ["SEND", "SUCCEEDED", "records"],
      ]);
      const record = await engine.store.getMessage(logs[0]!.messageId);
      assert.equal(record?.contentType, "application/pdf");
      assert.equal(record?.fileName, "report.pdf");

      // Only the final name is left in the remote folder: the temporary one was renamed.
      const final = `report-${record!.id}.pdf`;
      assert.deepEqual(await names(`${sshd.files}/outgoing`), [final]);
      assert.deepEqual(await Deno.readFile(`${sshd.files}/outgoing/${final}`), pdf);
      const touched = (e: Deno.FsEvent, name: string) =>
        e.paths.some((p) => p.endsWith(`/${name}`));
      // The temporary name is `.<final>.<attempt>.part`.
      const temporary = (e: Deno.FsEvent) =>
        e.paths.some((p) => p.includes(`/.${final}.`) && p.endsWith(".part"));
      await waitFor("the final name seen", () => events.some((e) => touched(e, final)), WAIT_MS);
      // inotify may fold a small file's writes into its create event.
      const lastWrite = events.findLastIndex((e) =>
        (e.kind === "modify" || e.kind === "create") && temporary(e)
      );
      const appeared = events.findIndex((e) => touched(e, final));
      assert.ok(lastWrite >= 0, `nothing written under .${final}.part: ${JSON.stringify(events)}`);
      assert.ok(appeared > lastWrite, `${final} appeared before its temporary file was complete`);
      assert.deepEqual(events.filter((e) => e.kind === "modify" && touched(e, final)), []);
      assert.deepEqual(await names(`${sshd.files}/docs/archive`), ["report.pdf"]);
      assert.deepEqual(await names(`${sshd.files}/docs`), ["archive/"]);
      const delivered = log.lines.filter((l) => l.includes("sftp.delivered"));
      assert.equal(delivered.length, 1, log.lines.join("\n"));
      assert.match(delivered[0]!, new RegExp(`outgoing/${final}`));
      assert.equal(logs[1]!.attempts[0]?.outcome, "SUCCEEDED");
      assert.match(logs[1]!.attempts[0]?.reason ?? "", new RegExp(`outgoing/${final}`));
    } finally {
      await stopWatching();
      await running?.close();
      await sshd.stop();
    }
  },
);

sshTest(
  "hosted SFTP: a file uploaded with sftp -b is routed over MLLP, and an sftpOutbox destination leaves files another user downloads",
  async () => {
    await using dir = await tempDir({ prefix: "sftp-e2e-" });
    const [hostKey, clinicKey, recordsKey] = await Promise.all([
      testKey("hosted_e2e_host", { type: "ed25519" }),
      testKey("hosted_e2e_clinic"),
      testKey("hosted_e2e_records"),
    ]);
    const ehr = await startHl7Receiver();
    let running: TestEngine | undefined;
    try {
      const config = configOf({
        node: { id: "e2e" },
        kv: { path: `${dir.path}/engine.kv` },
        environments: [{ id: "dev", type: "development" }],
        integrations: [
          { id: "clinic-uploads", environment: "dev" },
          { id: "records-uploads", environment: "dev" },
        ],
        sftpServer: {
          port: 0,
          hostname: "127.0.0.1",
          hostKey: { env: "SFTP_HOST_KEY" },
          root: `${dir.path}/sftp`,
          users: [
            { name: "clinic", publicKeys: [clinicKey.publicKey], integration: "clinic-uploads" },
            { name: "records", publicKeys: [recordsKey.publicKey], integration: "records-uploads" },
          ],
        },
        destinations: [
          { id: "ehr", environment: "dev", mllp: { host: "127.0.0.1", port: ehr.port } },
          {
            id: "records-outbox",
            environment: "dev",
            sftpOutbox: { user: "records", fileName: "{name}-{id}.{ext}" },
          },
        ],
        subscriptions: [{ from: { integration: "clinic-uploads" }, to: ["ehr", "records-outbox"] }],
      }, { SFTP_HOST_KEY: hostKey.privateKey });
      running = await startEngine(config);
      // Composed as `main.ts serve` composes it: uploads are stored by the engine's file inbox.
      const { engine } = running;
      const hosted = running.servers.sftp!;
      const s = running.config.sftpServer!;

      // Three messages back to back without an envelope, LF line ends.
      const ids = ["UP2001", "UP2002", "UP2003"];
      const messages = ids.map((id) => adt(id));
      const local = `${dir.path}/local`;
      await Deno.mkdir(local);
      const upload = encoder.encode(
        messages.map((m) => m.replaceAll("\r", "\n")).join("\n") + "\n",
      );
      await Deno.writeFile(`${local}/admissions.hl7`, upload);
      const put = await sftpBatch({
        port: hosted.port,
        user: "clinic",
        key: clinicKey.privatePath,
        commands: ["put admissions.hl7"],
        cwd: local,
      });
      assert.equal(put.success, true, put.stderr);
      // Stored before the client's close was answered, then archived in the user's folder.
      const root = await Deno.realPath(s.root);
      assert.deepEqual(await names(`${root}/clinic/archive`), ["admissions.hl7"]);
      assert.deepEqual(await Deno.readFile(`${root}/clinic/archive/admissions.hl7`), upload);

      await waitFor("three messages over MLLP", () => ehr.received.length >= ids.length, WAIT_MS);
      assert.deepEqual(ehr.controlIds(), ids);
      assert.deepEqual(ehr.received.map((m) => m.replace(/\r$/, "")), messages);

      await waitFor("every SEND log succeeded", async () => {
        const logs = await logsOf(engine, "clinic-uploads");
        return logs.filter((l) => l.type === "SEND" && l.status === "SUCCEEDED").length === 6;
      }, WAIT_MS);
      const logs = await logsOf(engine, "clinic-uploads");
      assert.equal(logs.length, 9, JSON.stringify(logs));
      const receive = logs.filter((l) => l.type === "RECEIVE");
      assert.deepEqual(
        receive.map((l) => [l.controlId, l.status]),
        ids.map((id) => [id, "SUCCEEDED"]),
      );
      const toOutbox = logs.filter((l) => l.destinationId === "records-outbox");
      const toEhr = logs.filter((l) => l.destinationId === "ehr");
      assert.deepEqual(toOutbox.map((l) => l.controlId), ids);
      assert.deepEqual(toEhr.map((l) => l.controlId), ids);
      const records = await engine.store.getMessages(receive.map((l) => l.messageId));
      assert.ok(records.every((r) => r?.fileName === "admissions.hl7" && r.origin.peer));

      // The records user downloads what the outbox destination delivered, one file per message.
      const expected = records.map((r) => `admissions-${r!.id}.hl7`);
      assert.deepEqual(await names(`${root}/records/outbox`), [...expected].sort());
      const downloads = `${dir.path}/downloads`;
      await Deno.mkdir(downloads);
      const get = await sftpBatch({
        port: hosted.port,
        user: "records",
        key: recordsKey.privatePath,
        commands: ["cd outbox", "ls -1", ...expected.map((name) => `get ${name}`)],
        cwd: downloads,
      });
      assert.equal(get.success, true, get.stderr);
      const listed = get.stdout.split("\n").filter((l) =>
        l.endsWith(".hl7") && !l.startsWith("sftp>")
      );
      assert.deepEqual(listed.sort(), [...expected].sort());
      for (const [i, name] of expected.entries()) {
        // As stored: segments ended by CR, the last one too (as a message received over MLLP).
        assert.equal(await Deno.readTextFile(`${downloads}/${name}`), messages[i] + "\r");
      }
      // The outbox is not upload space: nothing the engine delivered came back in as an upload.
      assert.equal((await logsOf(engine, "records-uploads")).length, 0);
    } finally {
      await running?.close();
      await ehr.stop();
    }
  },
);
