/**
 * The allocator the engine reports at start: read from a process's memory map, found where
 * distributions install jemalloc, and, for real, in a child started with jemalloc preloaded.
 */

import assert from "node:assert/strict";
import {
  allocatorFromMaps,
  allocatorFromPreload,
  allocatorReport,
  findJemalloc,
  JEMALLOC_PATHS,
} from "../../app/allocator.ts";
import { needs } from "../helpers/system_tools.ts";

const MAPS = [
  "55d0c6a00000-55d0c6a2c000 r--p 00000000 fe:00 1054 /usr/local/bin/deno",
  "7f1a2b000000-7f1a2b021000 rw-p 00000000 00:00 0 ",
  "7f1a2c400000-7f1a2c428000 r--p 00000000 fe:00 2048 /usr/lib/x86_64-linux-gnu/libc.so.6",
  "7ffd6a1f2000-7ffd6a213000 rw-p 00000000 00:00 0                          [stack]",
];

Deno.test("the allocator is read from the library mapped into the process", () => {
  const jemalloc = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2";
  assert.deepEqual(
    allocatorFromMaps(
      [...MAPS, `7f1a2d000000-7f1a2d024000 r-xp 00002000 fe:00 3001 ${jemalloc}`].join("\n"),
    ),
    { name: "jemalloc", library: jemalloc },
  );
  assert.deepEqual(
    allocatorFromMaps(
      [...MAPS, "7f1a r-xp 0 fe:00 9 /opt/x/libtcmalloc_minimal.so.4.5.10"].join("\n"),
    ),
    { name: "tcmalloc", library: "/opt/x/libtcmalloc_minimal.so.4.5.10" },
  );
  // A path with spaces is one path.
  assert.deepEqual(
    allocatorFromMaps("7f1a r-xp 0 fe:00 9 /opt/my libs/libmimalloc.so.2"),
    { name: "mimalloc", library: "/opt/my libs/libmimalloc.so.2" },
  );
  assert.deepEqual(allocatorFromMaps(MAPS.join("\n")), { name: "system" });
  // Only a mapped file counts: not a name in an anonymous mapping, not a folder of that name.
  assert.deepEqual(
    allocatorFromMaps(
      "7f1a rw-p 0 00:00 0 [anon:libjemalloc.so.2]\n7f1b r--p 0 fe:00 9 /srv/libjemalloc.so.2/data",
    ),
    { name: "system" },
  );
  assert.deepEqual(allocatorFromMaps(""), { name: "system" });
});

Deno.test("without /proc, the allocator is the known library LD_PRELOAD names, if it exists", () => {
  const there = (p: string) => p !== "/gone/libjemalloc.so.2";
  assert.deepEqual(
    allocatorFromPreload("/opt/libfoo.so /usr/lib/libjemalloc.so.2", there),
    { name: "jemalloc", library: "/usr/lib/libjemalloc.so.2" },
  );
  assert.deepEqual(
    allocatorFromPreload("/gone/libjemalloc.so.2:/usr/lib64/libtcmalloc.so.4", there),
    { name: "tcmalloc", library: "/usr/lib64/libtcmalloc.so.4" },
  );
  // The loader skips a library that is not there: glibc's malloc runs.
  assert.deepEqual(allocatorFromPreload("/gone/libjemalloc.so.2", there), { name: "system" });
  assert.deepEqual(allocatorFromPreload("libjemalloc.so.2", there), { name: "system" });
  assert.deepEqual(allocatorFromPreload("", there), { name: "system" });
});

Deno.test("jemalloc is found at the first of the paths that is a file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "allocator-" });
  try {
    const file = `${dir}/lib/libjemalloc.so.2`;
    await Deno.mkdir(`${dir}/lib`);
    await Deno.writeFile(file, new Uint8Array(1));
    // A folder of that name is not the library.
    await Deno.mkdir(`${dir}/libjemalloc.so.2`);
    const paths = [`${dir}/missing.so.2`, `${dir}/libjemalloc.so.2`, file];
    assert.equal(findJemalloc(paths), Deno.build.os === "linux" ? file : undefined);
    assert.equal(findJemalloc([`${dir}/missing.so.2`]), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  assert.ok(JEMALLOC_PATHS.includes("/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"));
});

Deno.test("the start report names the allocator, and on Linux says how to preload jemalloc", () => {
  const preloaded = allocatorReport({ name: "jemalloc", library: "/usr/lib/libjemalloc.so.2" });
  assert.deepEqual(preloaded, { allocator: "jemalloc", library: "/usr/lib/libjemalloc.so.2" });
  const found = allocatorReport({ name: "system" }, "/usr/lib64/libjemalloc.so.2");
  const missing = allocatorReport({ name: "system" }, null);
  assert.equal(found.allocator, "system");
  if (Deno.build.os === "linux") {
    assert.match(found.hint ?? "", /LD_PRELOAD=\/usr\/lib64\/libjemalloc\.so\.2/);
    assert.match(missing.hint ?? "", /libjemalloc2/);
  } else {
    assert.equal(found.hint, undefined);
  }
});

Deno.test("a process started with jemalloc preloaded reports it", needs("jemalloc"), async () => {
  const jemalloc = findJemalloc();
  assert.ok(jemalloc, "libjemalloc2 is installed (.ci/run installs it)");
  const run = (env: Record<string, string>) =>
    new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `import { currentAllocator } from ${
          JSON.stringify(
            new URL("../../app/allocator.ts", import.meta.url).href,
          )
        }; console.log(JSON.stringify(currentAllocator()));`,
      ],
      env: { NO_COLOR: "1", ...env },
      stdout: "piped",
      stderr: "piped",
    }).output();
  const [with_, without] = await Promise.all([run({ LD_PRELOAD: jemalloc }), run({})]);
  const text = (o: Deno.CommandOutput) => new TextDecoder().decode(o.stdout).trim();
  assert.equal(with_.code, 0, new TextDecoder().decode(with_.stderr));
  assert.deepEqual(JSON.parse(text(with_)), { name: "jemalloc", library: jemalloc });
  // Unless the test itself runs preloaded, the child without it runs glibc's own.
  if (!(Deno.env.get("LD_PRELOAD") ?? "").includes("jemalloc")) {
    assert.deepEqual(JSON.parse(text(without)), { name: "system" });
  }
});
