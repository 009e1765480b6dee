/**
 * `POST /admin/config/reload` when the config file has been replaced by something that is not a
 * regular file (a FIFO, which a read would block on for ever, holding the reload queue) or by one
 * over 16 MiB: a 400 naming it, nothing changed, and a later reload of a good file still runs.
 * A real engine with HTTP on 127.0.0.1, a KV file and the config file in a temp folder.
 * @module
 */

import assert from "node:assert/strict";
import { startConfigFileEngine } from "../helpers/config_file_engine.ts";
import {
  canMkfifo,
  CONFIG_FILE_LIMIT as LIMIT,
  mkfifo,
  sparseFile,
} from "../helpers/special_files.ts";
import { tempDir } from "../helpers/temp.ts";

const noFifo = !(await canMkfifo());

Deno.test({
  name: "reload refuses a config file replaced by a FIFO or by one over 16 MiB with a 400, at once",
  ignore: noFifo,
  fn: async () => {
    await using dir = await tempDir({ prefix: "reload-file-" });
    const { e, file, text, token } = await startConfigFileEngine(dir.path);
    try {
      const headers = { authorization: `Bearer ${token}` };
      const reload = async () => {
        // A deadline: a reload blocked on the FIFO fails the test instead of hanging it.
        const res = await fetch(`${e.base}/admin/config/reload`, {
          method: "POST",
          headers,
          signal: AbortSignal.timeout(30_000),
        });
        return { status: res.status, body: await res.json() };
      };

      await Deno.remove(file);
      await mkfifo(file);
      const fifo = await reload();
      const notRegular = `${file} is not a regular file (a FIFO)`;
      assert.equal(fifo.status, 400, JSON.stringify(fifo.body));
      assert.deepEqual(fifo.body, {
        ok: false,
        status: 400,
        error: notRegular,
        problems: [{ path: "$", message: notRegular }],
      });

      await Deno.remove(file);
      await sparseFile(file, LIMIT + 1);
      const big = await reload();
      assert.equal(big.status, 400, JSON.stringify(big.body));
      assert.equal(
        big.body.error,
        `${file} is ${LIMIT + 1} bytes; a config file is at most 16 MiB (${LIMIT} bytes)`,
      );

      // Nothing changed, and the reload queue is not stuck: the good file reloads.
      await Deno.writeTextFile(file, text);
      const good = await reload();
      assert.equal(good.status, 200, JSON.stringify(good.body));
      assert.equal(good.body.changed, false);
      const config = await fetch(`${e.base}/admin/config`, { headers });
      assert.equal((await config.json()).generation, 1);
    } finally {
      await e.close();
    }
  },
});
