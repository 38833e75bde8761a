import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { metaData, userData, writeSeed } from "../../../src/vm/seed.js";

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

describe("cluster facts on the seed", () => {
  const facts = {
    version: 1 as const,
    jobId: 7,
    self: 0,
    secret: "0f".repeat(32),
    user: { name: "alice", uid: 1001, gid: 1002 },
    vms: [{ name: "vm0", index: 0, template: "t", ip: "10.0.0.1", networks: {} }],
  };

  async function seedOf(ud: string): Promise<{ userData: string; factsNote?: string }> {
    const dir = await mkdtemp(join(tmpdir(), "seed-"));
    try {
      await writeFile(join(dir, "ud"), ud);
      return await writeSeed(join(dir, "seed.iso"), {
        hostname: "vm0",
        userData: { kind: "file", path: join(dir, "ud") },
        agent: false,
        facts,
      });
    } finally {
      await rm(dir, { recursive: true });
    }
  }

  it("writes /etc/pcocc/cluster.json root 0600 before the user's files, and substitutes %{...}", async () => {
    const s = await seedOf("#cloud-config\nwrite_files:\n  - path: /x\n    content: '%{vm.ip}'\n");
    const doc = parse(s.userData) as { write_files: Array<Record<string, string>> };
    expect(doc.write_files[0]).toMatchObject({
      path: "/etc/pcocc/cluster.json",
      owner: "root:root",
      permissions: "0600",
      encoding: "b64",
    });
    expect(JSON.parse(Buffer.from(doc.write_files[0]!.content!, "base64").toString())).toEqual(facts);
    expect(doc.write_files[1]).toEqual({ path: "/x", content: "10.0.0.1" });
    expect(s.factsNote).toBeUndefined();
    // one line per value: the tiny guest's reader does not join folded base64
    expect(s.userData).toMatch(/^ {4}content: [A-Za-z0-9+/=]{100,}$/m);
  });

  it("gives an empty user-data the file, leaves a script whole and says so", async () => {
    expect((parse((await seedOf("")).userData) as { write_files: unknown[] }).write_files).toHaveLength(1);
    const script = await seedOf("#!/bin/sh\necho %{vm.name}\n");
    expect(script.userData).toBe("#!/bin/sh\necho vm0\n");
    expect(script.factsNote).toMatch(/not #cloud-config/);
  });
});
