import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { metaData, userData } from "../../../src/vm/seed.js";

describe("NoCloud documents", () => {
  it("writes instance-id and local-hostname, generating an id when the template has none", () => {
    expect(metaData({ hostname: "vm2.cluster.local", instanceId: "tpl-1" })).toBe(
      "instance-id: tpl-1\nlocal-hostname: vm2.cluster.local\n",
    );
    const generated = parse(metaData({ hostname: "vm0" })) as Record<string, string>;
    expect(generated["instance-id"]).toMatch(/^[0-9a-f-]{36}$/);
    expect(parse(metaData({ hostname: "vm0", instanceId: "a: b" }))["instance-id"]).toBe("a: b");
  });

  it("turns an inline mapping into #cloud-config and copies a file as is", async () => {
    const inline = await userData({ kind: "inline", value: { runcmd: ["echo hi"], packages: ["x"] } });
    expect(inline.startsWith("#cloud-config\n")).toBe(true);
    expect(parse(inline)).toEqual({ runcmd: ["echo hi"], packages: ["x"] });
    const dir = await mkdtemp(join(tmpdir(), "seed-"));
    try {
      await writeFile(join(dir, "ud"), "#!/bin/sh\necho script\n");
      expect(await userData({ kind: "file", path: join(dir, "ud") })).toBe("#!/bin/sh\necho script\n");
      await expect(userData({ kind: "file", path: join(dir, "missing") })).rejects.toThrow(
        /unable to read user-data file/,
      );
    } finally {
      await rm(dir, { recursive: true });
    }
    expect(await userData({ kind: "none" })).toBe("");
  });
});
